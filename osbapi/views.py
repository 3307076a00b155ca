"""The OSB API v2.17 endpoints under ``/osb/v2/``: plain Django views that check the headers, parse
the request (``osb.server``), call ``osbapi.services`` and answer exactly as the spec says.

Every answer echoes ``X-Broker-API-Request-Identity``. Order of checks: authentication (401), then
the API version (412), then the request itself (400) — before anything is looked up or written.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from osb import errors as oe
from osb import server as os_
from osbapi import selectors, services
from osbapi.services import Caller, Reply

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 256 * 1024
_ECHOABLE = re.compile(r"[\x20-\x7e]{1,200}")  # only a plain request id is echoed (no header injection)


def _response(reply: Reply, request_id: str | None) -> HttpResponse:
    if reply.body is None:
        response = HttpResponse(status=reply.status)
    else:
        response = HttpResponse(
            json.dumps(reply.body, separators=(",", ":")), status=reply.status, content_type="application/json"
        )
    for key, value in reply.headers.items():
        response[key] = value
    if request_id and _ECHOABLE.fullmatch(request_id):
        response["X-Broker-API-Request-Identity"] = request_id
    return response


def _error(status: int, description: str, **headers: str) -> Reply:
    return Reply(status, oe.error_body(None, description), dict(headers))


def _caller(request: HttpRequest, request_id: str) -> Caller:
    credentials = os_.parse_basic_auth(request.headers.get("Authorization"))
    platform = services.authenticate(*credentials) if credentials else None
    if platform is None:
        raise _error(
            401,
            "Authenticate with the platform's user name and secret (HTTP basic).",
            **{"WWW-Authenticate": 'Basic realm="servicebay-osb"'},
        )
    problem = os_.check_api_version(request.headers.get("X-Broker-API-Version"))
    if problem:
        raise _error(412, problem)
    header = request.headers.get("X-Broker-API-Originating-Identity")
    problem = os_.check_originating_identity(header)
    if problem:
        raise services.bad_request(problem)
    identity = os_.parse_originating_identity(header)
    if _problem(identity):  # it goes into the audit log (JSON in PostgreSQL)
        identity = {"invalid": "the header held NUL characters or was nested too deeply"}
    return Caller(platform=platform, identity=identity, request_id=request_id.replace("\x00", ""))


def _body(request: HttpRequest, parse: Callable):
    try:
        raw = request.body
    except RequestDataTooBig as exc:
        raise services.bad_request("The request body is too large.") from exc
    if len(raw) > MAX_BODY_BYTES:
        raise services.bad_request("The request body is too large.")
    try:
        data = json.loads(raw.decode("utf-8") or "null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise services.bad_request(f"The request body is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise services.bad_request("The request body is nested too deeply.") from exc
    problem = _problem(data)
    if problem == "deep":
        raise services.bad_request(f"The request body is nested deeper than {MAX_DEPTH} levels.")
    if problem == "nul":
        raise services.bad_request("The request body must not contain NUL characters.")
    try:
        parsed = parse(data)
    except oe.ShapeError as exc:
        raise services.bad_request("; ".join(exc.problems)) from exc
    problem = os_.check_originating_identity(request.headers.get("X-Broker-API-Originating-Identity"), parsed.context)
    if problem:
        raise services.bad_request(problem)
    return parsed


MAX_DEPTH = 64


def _has_nul(value) -> bool:
    """PostgreSQL cannot store NUL in text or JSON: such a request is malformed (400), never a 500."""
    return _problem(value) == "nul"


def _problem(value) -> str | None:
    """``"nul"`` (a NUL character), ``"deep"`` (nested deeper than MAX_DEPTH) or None; iterative, so
    no input can exhaust the stack here."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return "deep"
        if isinstance(item, str):
            if "\x00" in item:
                return "nul"
        elif isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return None


def _query(request: HttpRequest, key: str) -> str | None:
    value = request.GET.get(key)
    return value if value is None or value else ""


def _nonempty(request: HttpRequest, *keys: str) -> None:
    for key in keys:
        if _query(request, key) == "":
            raise services.bad_request(f"{key}: if present, must be a non-empty string.")


def endpoint(methods: dict[str, Callable[..., Reply]]):
    """One URL: dispatch by method, with the checks every OSB request gets."""

    @csrf_exempt
    def view(request: HttpRequest, **kwargs) -> HttpResponse:
        request_id = request.headers.get("X-Broker-API-Request-Identity", "")
        try:
            caller = _caller(request, request_id)
            if _has_nul(kwargs) or _has_nul(dict(request.GET.items())):
                raise services.bad_request("Ids and query parameters must not contain NUL characters.")
            handler = methods.get(request.method)
            if handler is None:
                raise _error(405, f"{request.method} is not allowed here.", Allow=", ".join(sorted(methods)))
            reply = handler(request, caller, **kwargs)
        except Reply as reply_exc:
            reply = reply_exc
        if isinstance(reply, HttpResponse):  # already encoded (the cached catalog)
            if request_id and _ECHOABLE.fullmatch(request_id):
                reply["X-Broker-API-Request-Identity"] = request_id
            return reply
        return _response(reply, request_id)

    return view


# --- catalog ---------------------------------------------------------------------------------


def get_catalog(request: HttpRequest, caller: Caller) -> HttpResponse | Reply:
    body, etag = selectors.catalog_body(caller.platform)
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        return Reply(304, None, {"ETag": etag})
    response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    return response


# --- service instances -------------------------------------------------------------------------


def _accepts(request: HttpRequest) -> bool:
    return os_.accepts_incomplete(request.GET.get("accepts_incomplete"))


def put_instance(request, caller, instance_id: str) -> Reply:
    body = _body(request, os_.ProvisionRequest.from_json)
    return services.provision(caller, instance_id, body, _accepts(request))


def patch_instance(request, caller, instance_id: str) -> Reply:
    body = _body(request, os_.UpdateRequest.from_json)
    return services.update(caller, instance_id, body, _accepts(request))


def delete_instance(request, caller, instance_id: str) -> Reply:
    return services.deprovision(
        caller, instance_id, _query(request, "service_id"), _query(request, "plan_id"), _accepts(request)
    )


def get_instance(request, caller, instance_id: str) -> Reply:
    _nonempty(request, "service_id", "plan_id")
    return services.fetch_instance(caller, instance_id, _query(request, "service_id"), _query(request, "plan_id"))


def _operation(request) -> str | None:
    _nonempty(request, "service_id", "plan_id")
    try:
        return os_.check_operation(request.GET.get("operation"))
    except oe.ShapeError as exc:
        raise services.bad_request("; ".join(exc.problems)) from exc


def get_last_operation(request, caller, instance_id: str) -> Reply:
    operation = _operation(request)
    return services.last_operation(caller, instance_id, request.GET.get("service_id"), operation)


# --- service bindings ---------------------------------------------------------------------------


def put_binding(request, caller, instance_id: str, binding_id: str) -> Reply:
    body = _body(request, os_.BindRequest.from_json)
    return services.bind(caller, instance_id, binding_id, body, _accepts(request))


def delete_binding(request, caller, instance_id: str, binding_id: str) -> Reply:
    return services.unbind(
        caller, instance_id, binding_id, _query(request, "service_id"), _query(request, "plan_id"), _accepts(request)
    )


def get_binding(request, caller, instance_id: str, binding_id: str) -> Reply:
    _nonempty(request, "service_id", "plan_id")
    return services.fetch_binding(
        caller, instance_id, binding_id, _query(request, "service_id"), _query(request, "plan_id")
    )


def get_binding_last_operation(request, caller, instance_id: str, binding_id: str) -> Reply:
    operation = _operation(request)
    return services.binding_last_operation(caller, instance_id, binding_id, request.GET.get("service_id"), operation)


def _not_found(request, caller, **kwargs) -> Reply:
    return _error(404, "No such OSB endpoint.")


def _bad_path(problem: str):
    def answer(request, caller, **kwargs) -> Reply:
        raise services.bad_request(problem)

    return answer


MAX_ID_LENGTH = 255  # Instance.osb_instance_id / Binding.osb_binding_id
_RAW_URI_KEYS = ("RAW_URI", "REQUEST_URI")  # gunicorn, uWSGI / Apache: the path before percent-decoding


def _raw_rest(request: HttpRequest, rest: str) -> str | None:
    """The still percent-encoded path after ``service_instances/``, when the server passed it on and it
    decodes to the path Django routed (else ``None``: only the decoded path is known)."""
    from urllib.parse import unquote, urlsplit

    for key in _RAW_URI_KEYS:
        raw = request.META.get(key)
        if not raw:
            continue
        raw_path = urlsplit(raw).path if "://" in raw else raw.split("?", 1)[0]
        start = raw_path.find("/service_instances/")
        if start < 0:
            return None
        candidate = raw_path[start + len("/service_instances/") :]
        try:
            return candidate if unquote(candidate, errors="strict") == rest else None
        except UnicodeDecodeError:
            return None
    return None


def _route(request: HttpRequest, rest: str) -> tuple[Callable, dict[str, str]]:
    """Which endpoint ``service_instances/<rest>`` is, and its ids (which may hold ``/``: exactly from the
    raw URI when the server passes it on, else where the decoded path has a single reading)."""
    raw = _raw_rest(request, rest)
    found = os_.split_instances_path(raw) if raw is not None else os_.resolve_instances_path(rest)
    if isinstance(found, str):
        return _bad_path(found), {}
    if found is None:
        return _not_found, {}
    name, ids = found
    for key, value in ids.items():
        if len(value) > MAX_ID_LENGTH:
            return _bad_path(f"{key}: must not be longer than {MAX_ID_LENGTH} characters."), {}
    return _ENDPOINTS[name], ids


catalog = endpoint({"GET": get_catalog})
not_found = endpoint({method: _not_found for method in ("GET", "PUT", "PATCH", "DELETE", "POST")})
instance = endpoint({"PUT": put_instance, "PATCH": patch_instance, "DELETE": delete_instance, "GET": get_instance})
instance_last_operation = endpoint({"GET": get_last_operation})
binding = endpoint({"PUT": put_binding, "DELETE": delete_binding, "GET": get_binding})
binding_last_operation = endpoint({"GET": get_binding_last_operation})
_ENDPOINTS = {
    "instance": instance,
    "instance_last_operation": instance_last_operation,
    "binding": binding,
    "binding_last_operation": binding_last_operation,
}


@csrf_exempt
def service_instances(request: HttpRequest, rest: str) -> HttpResponse:
    """``/v2/service_instances/…``: one route, so that ids may hold ``/`` (see ``_route``)."""
    view, ids = _route(request, rest)
    if view in _ENDPOINTS.values():
        return view(request, **ids)
    return endpoint({method: view for method in ("GET", "PUT", "PATCH", "DELETE", "POST")})(request)
