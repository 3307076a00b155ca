"""Orphan mitigation: when must the platform delete what a failed request may have created?

The spec's "Orphan Mitigation" section (OSB API 2.15 onwards, unchanged in 2.17) says the platform is the
source of truth: a broker should hold exactly the instances and bindings the platform knows about. When a
create may have half-happened, the platform SHOULD delete the resource (deprovision / unbind) and keep
trying until the broker answers with a success — a 410 counts, so mitigating something that never got
created is harmless. Its table, row by row, and where each row lives in ``needs_orphan_mitigation``:

=====================================  ===============================  =========  ========  ===================
Request                                Broker response                  Instances  Bindings  code
=====================================  ===============================  =========  ========  ===================
All                                    200                              No         No        ``_SUCCESS``
All                                    200 with malformed response      No         No        ``status == 200``
last_operation of Provision/Deprov.    200 with ``"state": "failed"``   **Yes**    No        ``state=="failed"``
last_operation of Bind/Unbind          200 with ``"state": "failed"``   No         **Yes**   ``state=="failed"``
All                                    201                              No         No        ``_SUCCESS``
Provisioning                           201 with malformed response      **Yes**    No        ``status == 201``
Binding                                201 with malformed response      No         **Yes**   ``status == 201``
All                                    202                              No         No        ``_SUCCESS``
Provisioning/Deprovisioning            all other 2xx                    **Yes**    No        ``200 <= s < 300``
Binding/Unbinding                      all other 2xx                    No         **Yes**   ``200 <= s < 300``
Updating                               all other 2xx                    No         No        (update: never)
All                                    408                              No         No        ``400 <= s < 500``
All                                    all other 4xx                    No         No        ``400 <= s < 500``
Provisioning/Deprovisioning            5xx                              **Yes**    No        ``status >= 500``
Binding/Unbinding                      5xx                              No         **Yes**   ``status >= 500``
Updating                               5xx                              No         No        (update: never)
Provisioning                           timeout                          **Yes**    No        ``BrokerTimeout``
Binding                                timeout                          No         **Yes**   ``BrokerTimeout``
All except Provisioning and Binding    timeout                          No         No        ``BrokerTimeout``
=====================================  ===============================  =========  ========  ===================

So "all other 4xx" covers 409 ``Conflict`` and 422 (``AsyncRequired``, ``ConcurrencyError`` — for which the
"Blocking Operations" section says platforms MUST NOT mitigate —, ``MaintenanceInfoConflict``,
``RequiresApp``): the broker rejected the request and, per "Service Broker Errors", a 4xx leaves its
resources unchanged.

Where the table is silent this module decides, and says why:

* no request reached the broker (``BrokerUnreachable``: refused, DNS, connect timeout): nothing can have
  been created — no mitigation, like the 408 row ("request not received at the server");
* ``BrokerTimeout`` also covers a connection that broke after the request was sent: the outcome is just
  as unknown as with a timeout, so the timeout rows apply;
* ``PollingTimeout`` (the maximum polling duration passed): the spec says the operation MUST then be
  considered ``failed``, so the ``"state": "failed"`` rows apply;
* 1xx/3xx statuses (no row): the endpoint sections say any other status is a failure that "might need
  orphan mitigation" for provision and bind — mitigate there, not elsewhere;
* any other exception (the platform's own error after sending, e.g. saving the result failed): the
  spec's list of orphan scenarios includes "the Platform encounters an internal error when creating a
  Service Instance or Service Binding" — mitigate for provision and bind.

The column follows from the request: provision/deprovision → delete the instance, bind/unbind → delete the
binding (``mitigation_target``).
"""

from __future__ import annotations

from typing import Literal

from osb.errors import BrokerError, BrokerTimeout, MalformedResponse, NoResponse, OSBError, PollingTimeout

Request = Literal["provision", "deprovision", "update", "bind", "unbind"]
REQUESTS: tuple[str, ...] = ("provision", "deprovision", "update", "bind", "unbind")
_CREATES = ("provision", "bind")
_LIFECYCLE = ("provision", "deprovision", "bind", "unbind")
_SUCCESS = (200, 201, 202)


def mitigation_target(request: Request) -> Literal["instance", "binding"] | None:
    """What orphan mitigation deletes for this request: the instance, the binding, or nothing (update)."""
    _check(request)
    if request in ("provision", "deprovision"):
        return "instance"
    if request in ("bind", "unbind"):
        return "binding"
    return None


def needs_orphan_mitigation(
    request: Request,
    status: int | None = None,
    error: BaseException | None = None,
    *,
    state: str | None = None,
) -> bool:
    """Should the platform start orphan mitigation after this outcome of ``request``?

    Give what happened: the HTTP ``status`` of the broker's answer, and/or the ``error`` the client raised
    (its status is read from it: ``MalformedResponse`` means "<status> with malformed response"), and/or
    the final ``state`` of the asynchronous operation as ``last_operation`` reported it (``"failed"``).
    """
    _check(request)
    if state is not None:
        return state == "failed" and request in _LIFECYCLE
    if isinstance(error, PollingTimeout):
        return request in _LIFECYCLE  # the operation "MUST be considered failed"
    if isinstance(error, NoResponse):
        return isinstance(error, BrokerTimeout) and request in _CREATES
    if isinstance(error, MalformedResponse):
        status = error.status
        if status == 201:
            return request in _CREATES
        return _by_status(request, status)
    if isinstance(error, BrokerError):
        status = error.status
    elif error is not None and not isinstance(error, OSBError):
        return request in _CREATES  # the platform's own failure after the request
    if status is None:
        raise ValueError("give the response status, the error, or the last operation state")
    return _by_status(request, status)


def _by_status(request: str, status: int) -> bool:
    if status in _SUCCESS:
        return False  # 200/201/202, and 200 with a malformed body
    if 200 <= status < 300 or status >= 500:
        return request in _LIFECYCLE  # all other 2xx, 5xx
    if 400 <= status < 500:
        return False  # 408, 409, 422 and all other 4xx: the broker did nothing
    return request in _CREATES  # 1xx/3xx: no row; a failure that "might need orphan mitigation"


def _check(request: str) -> None:
    if request not in REQUESTS:
        raise ValueError(f"request must be one of {', '.join(REQUESTS)}, not {request!r}")
