"""OSB API errors: the spec's error codes, the exceptions the client raises, error bodies for brokers.

Spec, "Service Broker Errors": an error response MAY carry a JSON body with

* ``error`` — a single CamelCase word identifying the condition (non-empty if present),
* ``description`` — a user-facing message (non-empty if present),
* ``instance_usable`` — after a failed update or deprovision: is the instance still usable?
  (defaults to true; MUST NOT be present for other operations),
* ``update_repeatable`` — after a failed update: may the same update be repeated? (defaults to
  true; MUST NOT be present for other operations).

The four error codes the spec defines are the constants below. Everything the client raises is an
``OSBError``; every exception carries the ``request_id`` it sent as ``X-Broker-API-Request-Identity``
so it can be logged next to the broker's own logs.
"""

from __future__ import annotations

import re
from typing import Any

# --- the spec's error codes ------------------------------------------------------------------

ASYNC_REQUIRED = "AsyncRequired"
"""The request needs ``accepts_incomplete=true`` (422)."""
CONCURRENCY_ERROR = "ConcurrencyError"
"""Another operation on the same resource is in progress (422); clients wait and retry, no orphan mitigation."""
REQUIRES_APP = "RequiresApp"
"""A bind request lacks ``app_guid`` (422)."""
MAINTENANCE_INFO_CONFLICT = "MaintenanceInfoConflict"
"""``maintenance_info.version`` does not match the catalog (422); the platform should refetch the catalog."""

ERROR_CODES: frozenset[str] = frozenset({ASYNC_REQUIRED, CONCURRENCY_ERROR, REQUIRES_APP, MAINTENANCE_INFO_CONFLICT})

_CAMEL_WORD = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_BODY_EXCERPT = 500


class ShapeError(ValueError):
    """A JSON document does not have the shape the spec requires; ``problems`` lists every defect."""

    def __init__(self, problems: list[str], what: str = "document"):
        self.problems = list(problems)
        self.what = what
        super().__init__(f"malformed {what}: " + "; ".join(self.problems))


# --- what the client raises --------------------------------------------------------------------


class OSBError(Exception):
    """Base of everything ``osb.client`` raises."""

    def __init__(self, message: str, *, request_id: str = "", endpoint: str = ""):
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.endpoint = endpoint


class NoResponse(OSBError):
    """No (complete) HTTP response arrived. ``sent`` tells whether the broker may have seen the request."""

    sent: bool = True


class BrokerUnreachable(NoResponse):
    """The connection could not be made (refused, DNS, TLS, connect timeout): the request was never sent,
    so the broker cannot have acted on it."""

    sent = False


class BrokerTimeout(NoResponse):
    """The request was (or may have been) sent but no complete response arrived: a read or write timeout,
    or the connection dropped before the answer. The broker may have acted on it."""

    sent = True


class PollingTimeout(OSBError):
    """Polling ``last_operation`` reached the maximum polling duration. Per the spec the operation state
    MUST then be considered ``failed``."""


class MalformedResponse(OSBError):
    """The broker answered with a status the endpoint allows, but the body is not what the spec requires
    (not JSON, not an object, a required field missing or of the wrong type...)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        problems: list[str] | None = None,
        body: str = "",
        request_id: str = "",
        endpoint: str = "",
    ):
        super().__init__(message, request_id=request_id, endpoint=endpoint)
        self.status = status
        self.problems = list(problems or [])
        self.body = body[:_BODY_EXCERPT]


class BrokerError(OSBError):
    """The broker answered with an error status (or one the endpoint does not allow).

    ``error`` / ``description`` / ``instance_usable`` / ``update_repeatable`` come from the body when the
    broker sent them (``None`` otherwise; the spec's default for both booleans is true).
    """

    status: int = 0
    default_error: str | None = None

    def __init__(
        self,
        description: str | None = None,
        *,
        status: int | None = None,
        error: str | None = None,
        instance_usable: bool | None = None,
        update_repeatable: bool | None = None,
        body: str = "",
        request_id: str = "",
        endpoint: str = "",
    ):
        self.status = status if status is not None else type(self).status
        self.error = error if error is not None else type(self).default_error
        self.description = description
        self.instance_usable = instance_usable
        self.update_repeatable = update_repeatable
        self.body = body[:_BODY_EXCERPT]
        details = ": ".join(part for part in (self.error, description) if part)
        message = f"broker answered {self.status}" + (f" ({details})" if details else "")
        super().__init__(message, request_id=request_id, endpoint=endpoint)

    def to_body(self) -> dict[str, Any]:
        """The spec-conformant JSON body for this error (for the broker side)."""
        return error_body(
            self.error,
            self.description,
            instance_usable=self.instance_usable,
            update_repeatable=self.update_repeatable,
        )


class BadRequest(BrokerError):
    """400: the request is malformed or misses mandatory data."""

    status = 400


class Unauthorized(BrokerError):
    """401: authentication failed."""

    status = 401


class NotFound(BrokerError):
    """404: GET of an instance/binding that does not exist (or is still being created)."""

    status = 404


class RequestTimeout(BrokerError):
    """408: the broker says the request was not received in time (no orphan mitigation)."""

    status = 408


class Conflict(BrokerError):
    """409: an instance/binding with this id exists (or is being created) with different attributes."""

    status = 409


class Gone(BrokerError):
    """410: the resource does not exist. A success for deprovision/unbind (the client turns it into one);
    raised for ``last_operation`` polls, where it means success only while polling a delete."""

    status = 410


class PreconditionFailed(BrokerError):
    """412: the broker rejects our ``X-Broker-API-Version``."""

    status = 412


class UnprocessableEntity(BrokerError):
    """422 without one of the spec's error codes (e.g. an unsupported plan change)."""

    status = 422


class AsyncRequired(UnprocessableEntity):
    """422 ``AsyncRequired``: resend with ``accepts_incomplete=true``."""

    default_error = ASYNC_REQUIRED


class ConcurrencyError(UnprocessableEntity):
    """422 ``ConcurrencyError``: another operation is in progress; wait and retry (no orphan mitigation)."""

    default_error = CONCURRENCY_ERROR


class RequiresApp(UnprocessableEntity):
    """422 ``RequiresApp``: the bind request needs ``bind_resource.app_guid``."""

    default_error = REQUIRES_APP


class MaintenanceInfoConflict(UnprocessableEntity):
    """422 ``MaintenanceInfoConflict``: our ``maintenance_info.version`` is stale; refetch the catalog."""

    default_error = MAINTENANCE_INFO_CONFLICT


class ServerError(BrokerError):
    """5xx: the broker failed."""

    status = 500


class UnexpectedStatus(BrokerError):
    """A status the spec does not define for this endpoint; the spec says to treat it as a failure."""


_BY_STATUS: dict[int, type[BrokerError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    408: RequestTimeout,
    409: Conflict,
    410: Gone,
    412: PreconditionFailed,
    422: UnprocessableEntity,
}
_BY_CODE: dict[str, type[UnprocessableEntity]] = {
    ASYNC_REQUIRED: AsyncRequired,
    CONCURRENCY_ERROR: ConcurrencyError,
    REQUIRES_APP: RequiresApp,
    MAINTENANCE_INFO_CONFLICT: MaintenanceInfoConflict,
}


def error_class(status: int, error: str | None = None, *, allowed: bool = True) -> type[BrokerError]:
    """The exception class for an error ``status`` (and the body's ``error`` code, for 422).

    ``allowed=False`` means the endpoint's table does not list this status: it is still reported with
    its specific class when there is one, else as ``UnexpectedStatus``.
    """
    if status == 422 and error in _BY_CODE:
        return _BY_CODE[error]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if 500 <= status <= 599:
        return ServerError
    return UnexpectedStatus


def parse_error_body(data: Any) -> dict[str, Any]:
    """Pick the spec's error fields out of a decoded error body, ignoring anything ill-typed.

    Error bodies are read leniently: a broker that answers ``409`` with ``{}`` (openbrokerapi does) or with
    plain text is still a 409.
    """
    fields: dict[str, Any] = {"error": None, "description": None, "instance_usable": None, "update_repeatable": None}
    if not isinstance(data, dict):
        return fields
    for key in ("error", "description"):
        if isinstance(data.get(key), str) and data[key]:
            fields[key] = data[key]
    for key in ("instance_usable", "update_repeatable"):
        if isinstance(data.get(key), bool):
            fields[key] = data[key]
    return fields


# --- the broker side: spec-conformant error bodies ----------------------------------------------


def error_body(
    error: str | None = None,
    description: str | None = None,
    *,
    instance_usable: bool | None = None,
    update_repeatable: bool | None = None,
) -> dict[str, Any]:
    """Build an error response body as the spec defines it.

    ``error`` must be a single CamelCase word and both strings non-empty when given; the booleans are
    only included when given (the spec says they MUST NOT be present for operations other than
    update/deprovision — the caller knows which operation failed).
    """
    body: dict[str, Any] = {}
    if error is not None:
        if not isinstance(error, str) or not _CAMEL_WORD.match(error):
            raise ValueError(f"error must be a single CamelCase word, not {error!r}")
        body["error"] = error
    if description is not None:
        if not isinstance(description, str) or not description:
            raise ValueError("description must be a non-empty string")
        body["description"] = description
    if instance_usable is not None:
        body["instance_usable"] = bool(instance_usable)
    if update_repeatable is not None:
        body["update_repeatable"] = bool(update_repeatable)
    return body


def async_required_body(
    description: str = "This Service Plan requires client support for asynchronous service operations.",
) -> dict[str, Any]:
    return error_body(ASYNC_REQUIRED, description)


def concurrency_error_body(description: str = "Another operation for this Service Instance is in progress.") -> dict:
    return error_body(CONCURRENCY_ERROR, description)


def requires_app_body(
    description: str = "This Service supports generation of credentials through binding an application only.",
) -> dict[str, Any]:
    return error_body(REQUIRES_APP, description)


def maintenance_info_conflict_body(
    description: str = "The maintenance information for the requested Service Plan has changed.",
) -> dict[str, Any]:
    return error_body(MAINTENANCE_INFO_CONFLICT, description)


def error_response(exc: BrokerError) -> tuple[int, dict[str, Any]]:
    """``(status, body)`` for answering a platform with ``exc`` (e.g. ``raise ConcurrencyError(...)``)."""
    return exc.status, exc.to_body()
