"""``BrokerClient``: Servicebay as a platform talking to a vendor's OSB broker (API 2.17) over httpx.

Every call

* sends ``X-Broker-API-Version: 2.17``, ``X-Broker-API-Request-Identity`` (a new UUID unless the caller
  gives one; it comes back on the result and on every exception as ``request_id``, for the logs) and,
  when the caller says who asked, ``X-Broker-API-Originating-Identity: servicebay <base64 JSON>``;
* has a timeout (connect + read; a call-level ``timeout=`` overrides the client's);
* accepts exactly the statuses the spec defines for its endpoint and turns everything else into an
  ``osb.errors`` exception: ``BrokerError`` subclasses for error statuses (``Conflict``, ``Gone``,
  ``AsyncRequired``, ``ConcurrencyError``, ``MaintenanceInfoConflict``, ``ServerError``...),
  ``MalformedResponse`` for a good status with a bad body, ``BrokerUnreachable`` when the request could
  not be sent, ``BrokerTimeout`` when it was sent but no answer came in time.

Whether a failure calls for orphan mitigation is ``osb.orphans.needs_orphan_mitigation``'s decision.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from osb.errors import (
    BadRequest,
    BrokerError,
    BrokerTimeout,
    BrokerUnreachable,
    Gone,
    MalformedResponse,
    NoResponse,
    OSBError,
    PollingTimeout,
    PreconditionFailed,
    ShapeError,
    Unauthorized,
    error_class,
    parse_error_body,
)
from osb.models import (
    BindingDetails,
    BindResponse,
    Catalog,
    DeleteResponse,
    InstanceDetails,
    LastOperation,
    MaintenanceInfo,
    OperationState,
    ProvisionResponse,
    UpdateResponse,
)

API_VERSION = "2.17"
PLATFORM = "servicebay"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
"""The spec mentions platforms typically giving up after 60 seconds; connecting should be quick."""

T = TypeVar("T")
_NOT_JSON = object()


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` (the spec's "opaque bearer tokens")."""

    def __init__(self, token: str):
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = self._header
        yield request


def basic(username: str, password: str) -> httpx.Auth:
    """HTTP basic authentication, what the spec requires unless agreed otherwise."""
    return httpx.BasicAuth(username, password)


def bearer(token: str) -> httpx.Auth:
    return BearerAuth(token)


def originating_identity_header(platform: str, identity: Mapping[str, Any]) -> str:
    """``<platform> <base64 of the JSON identity>``, e.g. ``servicebay eyJ1c2VyX2lkIjogIjQyIn0=``."""
    if not platform or " " in platform:
        raise ValueError("platform must be a non-empty word")
    encoded = base64.b64encode(json.dumps(dict(identity), separators=(",", ":")).encode()).decode()
    return f"{platform} {encoded}"


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: httpx.Headers
    data: Any
    text: str
    request_id: str


def _segment(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    return quote(value, safe="")


def _maintenance(value: MaintenanceInfo | Mapping[str, Any] | str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, MaintenanceInfo):
        return value.to_json()
    if isinstance(value, str):
        return {"version": value}
    return dict(value)


def _compact(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}


class BrokerClient:
    """A client of one OSB broker.

    ``BrokerClient("https://broker.example", auth=basic("user", "pw"), timeout=30)``; use it as a
    context manager (or call ``close()``) to release its connections.
    """

    def __init__(
        self,
        url: str,
        *,
        auth: httpx.Auth | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        platform: str = PLATFORM,
        api_version: str = API_VERSION,
        verify: bool | str = True,
    ):
        if not url.startswith(("http://", "https://")):
            raise ValueError("the broker URL must start with http:// or https://")
        self.url = url.rstrip("/")
        self.platform = platform
        self.api_version = api_version
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._http = httpx.Client(
            base_url=self.url,
            auth=auth,
            timeout=self.timeout,
            verify=verify,
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": f"{platform}-osb-client/{api_version}"},
        )

    # -- plumbing ------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BrokerClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _request(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        identity: Mapping[str, Any] | None = None,
        identity_platform: str | None = None,
        request_id: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> _Reply:
        request_id = request_id or str(uuid.uuid4())
        headers = {"X-Broker-API-Version": self.api_version, "X-Broker-API-Request-Identity": request_id}
        if identity is not None:
            headers["X-Broker-API-Originating-Identity"] = originating_identity_header(
                identity_platform or self.platform, identity
            )
        headers.update(extra_headers or {})
        kwargs: dict[str, Any] = {"headers": headers, "params": _compact(params or {})}
        if body is not None:
            kwargs["content"] = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if timeout is not None:
            kwargs["timeout"] = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        where = f"{method} {path}"
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise BrokerUnreachable(
                f"could not reach the broker for {where}: {type(exc).__name__}: {exc}",
                request_id=request_id,
                endpoint=endpoint,
            ) from exc
        except httpx.TimeoutException as exc:  # read or write timeout: the broker may have acted
            raise BrokerTimeout(
                f"no answer from the broker in time for {where} ({type(exc).__name__})",
                request_id=request_id,
                endpoint=endpoint,
            ) from exc
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise BrokerTimeout(
                f"the connection to the broker broke during {where} ({type(exc).__name__}: {exc})",
                request_id=request_id,
                endpoint=endpoint,
            ) from exc
        except httpx.TransportError as exc:
            raise BrokerUnreachable(
                f"could not talk to the broker for {where}: {type(exc).__name__}: {exc}",
                request_id=request_id,
                endpoint=endpoint,
            ) from exc
        text = response.text
        try:
            data = json.loads(text) if text.strip() else _NOT_JSON
        except ValueError:
            data = _NOT_JSON
        return _Reply(response.status_code, response.headers, data, text, request_id)

    def _fail(self, endpoint: str, reply: _Reply) -> BrokerError:
        fields = parse_error_body(reply.data if reply.data is not _NOT_JSON else None)
        cls = error_class(reply.status, fields["error"])
        if fields["description"] is None and reply.data is _NOT_JSON and reply.text.strip():
            fields["description"] = reply.text.strip()[:200]
        return cls(status=reply.status, body=reply.text, request_id=reply.request_id, endpoint=endpoint, **fields)

    def _parse(self, endpoint: str, reply: _Reply, parse: Callable[[Any], T], *, lenient: bool = False) -> T:
        data = reply.data
        if data is _NOT_JSON:
            if not lenient:
                raise MalformedResponse(
                    f"{endpoint}: the broker answered {reply.status} without a JSON body",
                    status=reply.status,
                    problems=["(body): is not JSON"],
                    body=reply.text,
                    request_id=reply.request_id,
                    endpoint=endpoint,
                )
            data = {}
        try:
            return parse(data)
        except ShapeError as exc:
            if lenient:
                return parse({})
            raise MalformedResponse(
                f"{endpoint}: the broker answered {reply.status} with a malformed body: {'; '.join(exc.problems)}",
                status=reply.status,
                problems=exc.problems,
                body=reply.text,
                request_id=reply.request_id,
                endpoint=endpoint,
            ) from exc

    def _context(self, context: Mapping[str, Any] | None) -> dict[str, Any]:
        out = dict(context or {})
        out.setdefault("platform", self.platform)
        return out

    # -- catalog -------------------------------------------------------------------------------

    def catalog(
        self, *, etag: str | None = None, request_id: str | None = None, timeout: float | None = None
    ) -> Catalog | None:
        """``GET /v2/catalog`` → ``Catalog`` (200). With ``etag``, ``None`` means "not modified" (304)."""
        headers = {"If-None-Match": etag} if etag else None
        reply = self._request(
            "catalog", "GET", "/v2/catalog", request_id=request_id, timeout=timeout, extra_headers=headers
        )
        if reply.status == 304 and etag:
            return None
        if reply.status != 200:
            raise self._fail("catalog", reply)
        catalog = self._parse("catalog", reply, lambda d: Catalog.from_json(d, request_id=reply.request_id))
        return replace(catalog, etag=reply.headers.get("ETag"))

    # -- service instances ---------------------------------------------------------------------

    def provision(
        self,
        instance_id: str,
        *,
        service_id: str,
        plan_id: str,
        context: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        maintenance_info: MaintenanceInfo | Mapping[str, Any] | str | None = None,
        organization_guid: str | None = None,
        space_guid: str | None = None,
        accepts_incomplete: bool = True,
        identity: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> ProvisionResponse:
        """``PUT /v2/service_instances/:instance_id``.

        201 created, 200 an identical instance already exists, 202 accepted (poll ``last_operation`` with
        the returned ``operation``). Raises ``BadRequest`` (400), ``Conflict`` (409: exists with other
        attributes), ``AsyncRequired`` / ``MaintenanceInfoConflict`` / ``UnprocessableEntity`` (422), and
        anything else as failure (the platform might need orphan mitigation).

        ``organization_guid`` / ``space_guid`` are REQUIRED by the spec (deprecated in favour of
        ``context``); when not given they are taken from ``context`` if it has them.
        """
        ctx = self._context(context)
        body = _compact(
            {
                "service_id": service_id,
                "plan_id": plan_id,
                "context": ctx,
                "organization_guid": organization_guid or ctx.get("organization_guid"),
                "space_guid": space_guid or ctx.get("space_guid"),
                "parameters": dict(parameters) if parameters is not None else None,
                "maintenance_info": _maintenance(maintenance_info),
            }
        )
        reply = self._request(
            "provision",
            "PUT",
            f"/v2/service_instances/{_segment(instance_id, 'instance_id')}",
            params={"accepts_incomplete": "true" if accepts_incomplete else None},
            body=body,
            identity=identity,
            identity_platform=ctx["platform"],
            request_id=request_id,
            timeout=timeout,
        )
        if reply.status not in (200, 201, 202):
            raise self._fail("provision", reply)
        return self._parse(
            "provision",
            reply,
            lambda d: ProvisionResponse.from_json(d, status=reply.status, request_id=reply.request_id),
        )

    def update(
        self,
        instance_id: str,
        *,
        service_id: str,
        plan_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        previous_values: Mapping[str, Any] | None = None,
        maintenance_info: MaintenanceInfo | Mapping[str, Any] | str | None = None,
        accepts_incomplete: bool = True,
        identity: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> UpdateResponse:
        """``PATCH /v2/service_instances/:instance_id``: change plan, parameters, context or maintenance_info.

        Fields left ``None`` are not sent (the broker MUST NOT change what is absent). 200 applied (or no
        effect), 202 accepted: poll ``last_operation`` with the plan id *before* the update. Raises
        ``BadRequest`` (400), ``AsyncRequired`` / ``MaintenanceInfoConflict`` / ``ConcurrencyError`` /
        ``UnprocessableEntity`` (422: e.g. an unsupported plan change).
        """
        ctx = self._context(context)
        previous = dict(previous_values) if previous_values is not None else None
        if previous and isinstance(previous.get("maintenance_info"), MaintenanceInfo | str):
            previous["maintenance_info"] = _maintenance(previous["maintenance_info"])
        body = _compact(
            {
                "service_id": service_id,
                "plan_id": plan_id,
                "context": ctx,
                "parameters": dict(parameters) if parameters is not None else None,
                "previous_values": previous,
                "maintenance_info": _maintenance(maintenance_info),
            }
        )
        reply = self._request(
            "update",
            "PATCH",
            f"/v2/service_instances/{_segment(instance_id, 'instance_id')}",
            params={"accepts_incomplete": "true" if accepts_incomplete else None},
            body=body,
            identity=identity,
            identity_platform=ctx["platform"],
            request_id=request_id,
            timeout=timeout,
        )
        if reply.status not in (200, 202):
            raise self._fail("update", reply)
        return self._parse(
            "update", reply, lambda d: UpdateResponse.from_json(d, status=reply.status, request_id=reply.request_id)
        )

    def deprovision(
        self,
        instance_id: str,
        *,
        service_id: str,
        plan_id: str,
        accepts_incomplete: bool = True,
        identity: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> DeleteResponse:
        """``DELETE /v2/service_instances/:instance_id``.

        200 deleted, 202 accepted (poll ``last_operation(..., deleting=True)``), 410 already gone — a
        success (``.gone``). Raises ``BadRequest`` (400), ``AsyncRequired`` / ``ConcurrencyError`` (422).
        """
        path = f"/v2/service_instances/{_segment(instance_id, 'instance_id')}"
        return self._delete("deprovision", path, service_id, plan_id, accepts_incomplete, identity, request_id, timeout)

    def _delete(
        self,
        endpoint: str,
        path: str,
        service_id: str,
        plan_id: str,
        accepts_incomplete: bool,
        identity: Mapping[str, Any] | None,
        request_id: str | None,
        timeout: float | None,
    ) -> DeleteResponse:
        """Deprovision and unbind: 200 deleted, 202 accepted, 410 already gone (a success)."""
        reply = self._request(
            endpoint,
            "DELETE",
            path,
            params={
                "service_id": service_id,
                "plan_id": plan_id,
                "accepts_incomplete": "true" if accepts_incomplete else None,
            },
            identity=identity,
            request_id=request_id,
            timeout=timeout,
        )
        if reply.status not in (200, 202, 410):
            raise self._fail(endpoint, reply)
        return self._parse(
            endpoint,
            reply,
            lambda d: DeleteResponse.from_json(d, status=reply.status, request_id=reply.request_id),
            lenient=reply.status == 410,
        )

    def last_operation(
        self,
        instance_id: str,
        *,
        service_id: str | None = None,
        plan_id: str | None = None,
        operation: str | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> LastOperation:
        """``GET /v2/service_instances/:instance_id/last_operation`` → state, description, usable/repeatable
        and the ``Retry-After`` header. Raises ``Gone`` on 410 (success only while polling a delete) and
        ``BadRequest`` on 400; other statuses are errors to keep polling through (``poll_last_operation``).
        """
        reply = self._request(
            "last_operation",
            "GET",
            f"/v2/service_instances/{_segment(instance_id, 'instance_id')}/last_operation",
            params={"service_id": service_id, "plan_id": plan_id, "operation": operation},
            request_id=request_id,
            timeout=timeout,
        )
        return self._last_operation("last_operation", reply)

    def _last_operation(self, endpoint: str, reply: _Reply) -> LastOperation:
        if reply.status != 200:
            raise self._fail(endpoint, reply)
        return self._parse(
            endpoint,
            reply,
            lambda d: LastOperation.from_json(
                d, retry_after_header=reply.headers.get("Retry-After"), request_id=reply.request_id
            ),
        )

    def get_instance(
        self,
        instance_id: str,
        *,
        service_id: str | None = None,
        plan_id: str | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> InstanceDetails:
        """``GET /v2/service_instances/:instance_id`` (offerings with ``instances_retrievable``).
        Raises ``NotFound`` (404: absent or still provisioning), ``ConcurrencyError`` (422: being updated)."""
        reply = self._request(
            "get_instance",
            "GET",
            f"/v2/service_instances/{_segment(instance_id, 'instance_id')}",
            params={"service_id": service_id, "plan_id": plan_id},
            request_id=request_id,
            timeout=timeout,
        )
        if reply.status != 200:
            raise self._fail("get_instance", reply)
        return self._parse("get_instance", reply, lambda d: InstanceDetails.from_json(d, request_id=reply.request_id))

    # -- service bindings ----------------------------------------------------------------------

    def bind(
        self,
        instance_id: str,
        binding_id: str,
        *,
        service_id: str,
        plan_id: str,
        context: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        bind_resource: Mapping[str, Any] | None = None,
        predecessor_binding_id: str | None = None,
        accepts_incomplete: bool = True,
        identity: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> BindResponse:
        """``PUT /v2/service_instances/:instance_id/service_bindings/:binding_id``.

        201 created, 200 an identical binding exists, 202 accepted (poll ``binding_last_operation``, then
        ``get_binding`` for the credentials). Raises ``BadRequest`` (400), ``Conflict`` (409),
        ``RequiresApp`` / ``ConcurrencyError`` / ``AsyncRequired`` (422). ``bind_resource.app_guid`` is
        also sent as the deprecated top-level ``app_guid`` for older brokers. ``predecessor_binding_id``
        asks for a rotation of that binding (plans with ``binding_rotatable``).
        """
        ctx = self._context(context)
        resource = dict(bind_resource) if bind_resource is not None else None
        body = _compact(
            {
                "service_id": service_id,
                "plan_id": plan_id,
                "context": ctx,
                "app_guid": (resource or {}).get("app_guid"),
                "bind_resource": resource,
                "parameters": dict(parameters) if parameters is not None else None,
                "predecessor_binding_id": predecessor_binding_id,
            }
        )
        reply = self._request(
            "bind",
            "PUT",
            f"/v2/service_instances/{_segment(instance_id, 'instance_id')}"
            f"/service_bindings/{_segment(binding_id, 'binding_id')}",
            params={"accepts_incomplete": "true" if accepts_incomplete else None},
            body=body,
            identity=identity,
            identity_platform=ctx["platform"],
            request_id=request_id,
            timeout=timeout,
        )
        if reply.status not in (200, 201, 202):
            raise self._fail("bind", reply)
        return self._parse(
            "bind", reply, lambda d: BindResponse.from_json(d, status=reply.status, request_id=reply.request_id)
        )

    def unbind(
        self,
        instance_id: str,
        binding_id: str,
        *,
        service_id: str,
        plan_id: str,
        accepts_incomplete: bool = True,
        identity: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> DeleteResponse:
        """``DELETE .../service_bindings/:binding_id``: 200 deleted, 202 accepted, 410 already gone (a
        success). Raises ``BadRequest`` (400), ``AsyncRequired`` / ``ConcurrencyError`` (422)."""
        path = (
            f"/v2/service_instances/{_segment(instance_id, 'instance_id')}"
            f"/service_bindings/{_segment(binding_id, 'binding_id')}"
        )
        return self._delete("unbind", path, service_id, plan_id, accepts_incomplete, identity, request_id, timeout)

    def binding_last_operation(
        self,
        instance_id: str,
        binding_id: str,
        *,
        service_id: str | None = None,
        plan_id: str | None = None,
        operation: str | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> LastOperation:
        """``GET .../service_bindings/:binding_id/last_operation``; ``Gone`` on 410 as for instances."""
        reply = self._request(
            "binding_last_operation",
            "GET",
            f"/v2/service_instances/{_segment(instance_id, 'instance_id')}"
            f"/service_bindings/{_segment(binding_id, 'binding_id')}/last_operation",
            params={"service_id": service_id, "plan_id": plan_id, "operation": operation},
            request_id=request_id,
            timeout=timeout,
        )
        return self._last_operation("binding_last_operation", reply)

    def get_binding(
        self,
        instance_id: str,
        binding_id: str,
        *,
        service_id: str | None = None,
        plan_id: str | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> BindingDetails:
        """``GET .../service_bindings/:binding_id`` (offerings with ``bindings_retrievable``).
        Raises ``NotFound`` (404: absent or still being created)."""
        reply = self._request(
            "get_binding",
            "GET",
            f"/v2/service_instances/{_segment(instance_id, 'instance_id')}"
            f"/service_bindings/{_segment(binding_id, 'binding_id')}",
            params={"service_id": service_id, "plan_id": plan_id},
            request_id=request_id,
            timeout=timeout,
        )
        if reply.status != 200:
            raise self._fail("get_binding", reply)
        return self._parse("get_binding", reply, lambda d: BindingDetails.from_json(d, request_id=reply.request_id))

    # -- polling -------------------------------------------------------------------------------

    def poll_last_operation(
        self,
        instance_id: str,
        *,
        service_id: str | None = None,
        plan_id: str | None = None,
        operation: str | None = None,
        deleting: bool = False,
        max_duration: float = 3600.0,
        interval: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        on_poll: Callable[[LastOperation], None] | None = None,
    ) -> LastOperation:
        """Poll an instance's ``last_operation`` until it is done; see ``poll``."""
        return poll(
            lambda: self.last_operation(instance_id, service_id=service_id, plan_id=plan_id, operation=operation),
            deleting=deleting,
            max_duration=max_duration,
            interval=interval,
            sleep=sleep,
            on_poll=on_poll,
        )

    def poll_binding_last_operation(
        self,
        instance_id: str,
        binding_id: str,
        *,
        service_id: str | None = None,
        plan_id: str | None = None,
        operation: str | None = None,
        deleting: bool = False,
        max_duration: float = 3600.0,
        interval: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        on_poll: Callable[[LastOperation], None] | None = None,
    ) -> LastOperation:
        """Poll a binding's ``last_operation`` until it is done; see ``poll``."""
        return poll(
            lambda: self.binding_last_operation(
                instance_id, binding_id, service_id=service_id, plan_id=plan_id, operation=operation
            ),
            deleting=deleting,
            max_duration=max_duration,
            interval=interval,
            sleep=sleep,
            on_poll=on_poll,
        )


_STOP_POLLING = (BadRequest, Unauthorized, PreconditionFailed)


def poll(
    fetch: Callable[[], LastOperation],
    *,
    deleting: bool,
    max_duration: float,
    interval: float = 2.0,
    max_interval: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_poll: Callable[[LastOperation], None] | None = None,
) -> LastOperation:
    """Call ``fetch`` until the operation is ``succeeded`` or ``failed``, as the spec describes polling.

    * waits ``Retry-After`` when the broker sends it, else ``interval`` (never past the deadline);
    * 410 ``Gone`` ends a delete's polling as a success (``deleting=True``); while polling a create or
      update it is "an invalid response" and polling goes on;
    * any other error status, a malformed body or no response: keep polling (the spec's SHOULD), except
      400/401/412, which repeating the same request cannot cure — those are raised;
    * at ``max_duration`` (the platform's, or the plan's ``maximum_polling_duration``) raises
      ``PollingTimeout``: the spec says the operation MUST then be considered failed.

    ``sleep`` is injectable so an operation handler can heartbeat while it waits (``ctx.sleep``).
    """
    deadline = clock() + max_duration
    last_error: OSBError | None = None
    while True:
        try:
            result = fetch()
        except Gone as exc:
            if deleting:
                return LastOperation(
                    state=OperationState.SUCCEEDED, description="The resource is gone.", request_id=exc.request_id
                )
            last_error = exc
            wait = interval
        except _STOP_POLLING:
            raise
        except (BrokerError, MalformedResponse, NoResponse) as exc:
            last_error = exc
            wait = interval
        else:
            last_error = None
            if on_poll is not None:
                on_poll(result)
            if result.done:
                return result
            wait = result.retry_after if result.retry_after is not None else interval
        left = deadline - clock()
        if left <= 0:
            detail = f" (last error: {last_error})" if last_error is not None else ""
            raise PollingTimeout(f"the operation did not finish within {max_duration:.0f}s{detail}")
        sleep(max(0.0, min(wait, max_interval, left)))
