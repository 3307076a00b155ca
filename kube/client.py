"""The connection to one Kubernetes cluster: :func:`connect` and :class:`Kube`.

Every call has a connect and read timeout, so an unreachable API server gives
:class:`~kube.errors.KubeUnreachable` quickly instead of a hang. Objects are
plain dicts, as the API serves them (JSON).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from .errors import ApplyConflict, Expired, FieldConflict, KubeError, KubeUnreachable, NotFound
from .fields import FIELD_MANAGER
from .readiness import Readiness, readiness

USER_AGENT = "servicebay-kube/1"
_APPLY_FIRST = {"Namespace": 0, "CustomResourceDefinition": 1}


class Ref(NamedTuple):
    """Names one object: ``Ref("apps/v1", "Deployment", "web", "shop")``."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    @classmethod
    def of(cls, obj: Mapping[str, Any] | Ref) -> Ref:
        if isinstance(obj, Ref):
            return obj
        meta = obj.get("metadata") or {}
        if not obj.get("apiVersion") or not obj.get("kind") or not meta.get("name"):
            raise KubeError("an object needs apiVersion, kind and metadata.name")
        return cls(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


ObjectOrRef = Mapping[str, Any] | Ref
Objects = list[dict[str, Any]]


@dataclass(frozen=True)
class Resource:
    """What discovery says about a kind."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool


_Pending = list[tuple[Ref, Resource, str | None, str]]  # ref, resource, namespace, uid


class Health(NamedTuple):
    reachable: bool
    version: str | None  # the server's gitVersion, e.g. "v1.37.2"
    error: str | None


class ObjectList(list[dict[str, Any]]):
    """A list of objects plus the collection's resourceVersion (to start a watch from)."""

    resource_version: str = ""


@dataclass(frozen=True)
class WatchEvent:
    """One event of :meth:`Kube.watch`.

    ``type`` is ``ADDED``, ``MODIFIED`` or ``DELETED`` as the API sends them, or
    ``RELIST`` (``object`` is None): the watch had to start over from a fresh
    list (its resourceVersion was too old: HTTP 410 Gone). After RELIST come an
    ``ADDED`` event for every object that exists now, then a ``DELETED`` event for
    every object this watch had reported before and that no longer exists.
    """

    type: str
    object: dict[str, Any] | None


def connect(
    kubeconfig: str | None = None,
    *,
    in_cluster: bool = False,
    context: str | None = None,
    timeout: float = 10,
) -> Kube:
    """Connect to a cluster from kubeconfig YAML *text* or, with ``in_cluster``,
    from the pod's service account. Nothing is read implicitly (no ~/.kube/config,
    no KUBECONFIG). ``timeout`` (seconds) bounds connecting and each read.

    No request is made: use :meth:`Kube.health` or :meth:`Kube.version` to check.
    """
    configuration = k8s_client.Configuration()
    namespace = "default"
    try:
        if in_cluster:
            k8s_config.load_incluster_config(client_configuration=configuration)
            try:
                with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as f:
                    namespace = f.read().strip() or namespace
            except OSError:
                pass
        elif kubeconfig is not None:
            data = yaml.safe_load(kubeconfig)
            if not isinstance(data, dict):
                raise KubeError("the kubeconfig is not a YAML mapping")
            k8s_config.load_kube_config_from_dict(
                data, context=context, client_configuration=configuration, persist_config=False
            )
            current = context or data.get("current-context")
            for ctx in data.get("contexts") or []:
                if ctx.get("name") == current:
                    namespace = (ctx.get("context") or {}).get("namespace") or namespace
        else:
            raise KubeError("no kubeconfig given (and in_cluster is false)")
    except (ConfigException, yaml.YAMLError) as e:
        raise KubeError(f"invalid Kubernetes configuration: {e}") from e
    # Retry a refused connection once; never retry reads (writes are not idempotent).
    configuration.retries = urllib3.Retry(total=1, connect=1, read=0, status=0, redirect=0, other=0)
    return Kube(k8s_client.ApiClient(configuration), timeout=timeout, namespace=namespace)


class Kube:
    """One cluster. Thread-safe for concurrent calls; close() when done."""

    def __init__(self, api_client: k8s_client.ApiClient, *, timeout: float = 10, namespace: str = "default") -> None:
        self.api_client = api_client
        self.api_client.user_agent = USER_AGENT
        self.timeout = timeout
        self.namespace = namespace  # default for namespaced objects without one
        self._discovery: dict[str, dict[str, Resource]] = {}
        self._lock = threading.Lock()
        self.requests = 0  # API requests sent (benchmarks and tests count Kubernetes calls with it)

    @property
    def host(self) -> str:
        return str(self.api_client.configuration.host)

    def close(self) -> None:
        self.api_client.close()

    def __enter__(self) -> Kube:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ HTTP

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Iterable[tuple[str, Any]] = (),
        body: Any = None,
        content_type: str = "application/json",
        read_timeout: float | None = None,
    ) -> Any:
        """Send one request; return the raw urllib3 response (status < 400)."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type  # the client JSON-encodes body (JSON is YAML, too)
        params = [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in query if v is not None]
        request = self.api_client.param_serialize(
            method, path, query_params=params or None, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        timeout = (self.timeout, read_timeout if read_timeout is not None else self.timeout)
        self.requests += 1
        try:
            response = self.api_client.call_api(*request, _request_timeout=timeout)
        except ApiException as e:  # the client reports TLS failures this way
            why = " ".join(str(e.reason).split())
            raise KubeUnreachable(f"cannot talk to the Kubernetes API at {self.host}: {why}") from e
        except urllib3.exceptions.HTTPError as e:
            raise KubeUnreachable(f"cannot reach the Kubernetes API at {self.host}: {_cause(e)}") from e
        except OSError as e:
            raise KubeUnreachable(f"cannot reach the Kubernetes API at {self.host}: {e}") from e
        raw = response.response
        if raw.status >= 400:
            try:
                data = raw.data
            except urllib3.exceptions.HTTPError as e:
                raise KubeUnreachable(f"the Kubernetes API at {self.host} stopped answering: {_cause(e)}") from e
            raise _api_error(raw.status, data, method, path)
        return raw

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request and return the decoded JSON answer."""
        raw = self._send(method, path, **kwargs)
        try:
            data = raw.data
        except urllib3.exceptions.HTTPError as e:
            raise KubeUnreachable(f"the Kubernetes API at {self.host} stopped answering: {_cause(e)}") from e
        return json.loads(data) if data else None

    # ------------------------------------------------------------- discovery

    def resource(self, api_version: str, kind: str) -> Resource:
        """Discovery for one kind (cached per Kube; refreshed once on a miss)."""
        for refresh in (False, True):
            with self._lock:
                known = None if refresh else self._discovery.get(api_version)
            if known is None:
                known = self._discover(api_version)
                with self._lock:
                    self._discovery[api_version] = known
            if kind in known:
                return known[kind]
        raise NotFound(f"the cluster has no kind {kind} in {api_version}", status=404, reason="NotFound")

    def _discover(self, api_version: str) -> dict[str, Resource]:
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            data = self._call("GET", base)
        except NotFound:
            return {}
        return {
            r["kind"]: Resource(api_version, r["kind"], r["name"], bool(r.get("namespaced")))
            for r in data.get("resources", [])
            if "/" not in r["name"]  # skip subresources such as deployments/status
        }

    def _path(self, res: Resource, namespace: str | None, name: str | None = None) -> str:
        base = "/api/v1" if res.api_version == "v1" else f"/apis/{res.api_version}"
        if res.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{res.plural}"
        return base + (f"/{quote(name, safe='')}" if name else "")

    def _namespace_for(self, res: Resource, namespace: str | None) -> str | None:
        return (namespace or self.namespace) if res.namespaced else None

    # ---------------------------------------------------------------- reads

    def version(self) -> str:
        """The server's version, e.g. ``v1.37.2``."""
        return str(self._call("GET", "/version")["gitVersion"])

    def health(self) -> Health:
        """Reachability and version; never raises."""
        try:
            return Health(True, self.version(), None)
        except KubeUnreachable as e:
            return Health(False, None, str(e))
        except KubeError as e:
            return Health(True, None, str(e))

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """One object; raises NotFound when it does not exist."""
        res = self.resource(api_version, kind)
        return self._call("GET", self._path(res, self._namespace_for(res, namespace), name))  # type: ignore[no-any-return]

    def get_or_none(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        try:
            return self.get(api_version, kind, name, namespace)
        except NotFound:
            return None

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> ObjectList:
        """All objects of a kind, in one namespace (or all namespaces when None),
        in one API call. Items carry apiVersion and kind."""
        res = self.resource(api_version, kind)
        data = self._call("GET", self._path(res, namespace), query=[("labelSelector", label_selector)])
        items = ObjectList()
        for item in data.get("items") or []:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
            items.append(item)
        items.resource_version = (data.get("metadata") or {}).get("resourceVersion", "")
        return items

    # ---------------------------------------------------------------- apply

    def apply(
        self,
        objects: Mapping[str, Any] | Iterable[Mapping[str, Any]],
        *,
        force: bool = False,
        namespace: str | None = None,
        field_manager: str = FIELD_MANAGER,
    ) -> Objects:
        """Server-side apply, field manager ``servicebay``; returns the objects as stored.

        Namespaces and CRDs go first (CRDs are waited for until established).
        ``namespace`` is used for namespaced objects that name none. When another
        field manager owns a field being set, :class:`ApplyConflict` is raised,
        unless ``force`` (then we take the fields over). Applying unchanged
        objects writes nothing (resourceVersion stays). ``field_manager`` is for
        tests that play another client.
        """
        batch = [objects] if isinstance(objects, Mapping) else list(objects)
        order = sorted(range(len(batch)), key=lambda i: (_APPLY_FIRST.get(batch[i].get("kind", ""), 2), i))
        results: Objects = [{} for _ in batch]
        for i in order:
            obj = batch[i]
            ref = Ref.of(obj)
            res = self._resource_soon(ref.api_version, ref.kind)
            ns = self._namespace_for(res, ref.namespace or namespace)
            body = json.loads(json.dumps(obj))  # a deep copy we may change
            if ns:
                body["metadata"]["namespace"] = ns
            try:
                stored = self._call(
                    "PATCH",
                    self._path(res, ns, ref.name),
                    query=[("fieldManager", field_manager), ("force", force)],
                    body=body,
                    content_type="application/apply-patch+yaml",
                )
            except ApplyConflict as e:
                raise ApplyConflict(f"cannot apply {ref}: {e.message}", e.conflicts) from None
            except KubeError as e:
                raise type(e)(f"cannot apply {ref}: {e.message}", status=e.status, reason=e.reason) from e
            if ref.kind == "CustomResourceDefinition":
                self._wait_established(ref.name)
            results[i] = stored
        return results

    def patch(
        self,
        obj: ObjectOrRef,
        patch: Any,
        *,
        patch_type: str = "merge",
        subresource: str | None = None,
        field_manager: str = FIELD_MANAGER,
        namespace: str | None = None,
    ) -> dict[str, Any]:
        """Patch one object (an Update operation, not an apply).

        ``patch_type``: ``merge`` (RFC 7386), ``strategic`` or ``json`` (RFC 6902).
        ``subresource``: e.g. ``status`` or ``scale``.
        """
        content_types = {
            "merge": "application/merge-patch+json",
            "strategic": "application/strategic-merge-patch+json",
            "json": "application/json-patch+json",
        }
        if patch_type not in content_types:
            raise ValueError(f"patch_type must be one of {', '.join(content_types)}")
        ref = Ref.of(obj)
        res = self.resource(ref.api_version, ref.kind)
        path = self._path(res, self._namespace_for(res, ref.namespace or namespace), ref.name)
        if subresource:
            path += f"/{subresource}"
        return self._call(  # type: ignore[no-any-return]
            "PATCH", path, query=[("fieldManager", field_manager)], body=patch, content_type=content_types[patch_type]
        )

    def _resource_soon(self, api_version: str, kind: str, wait: float = 10) -> Resource:
        """Discovery that allows a just-created CRD a moment to be served."""
        deadline = time.monotonic() + wait
        while True:
            try:
                return self.resource(api_version, kind)
            except NotFound:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)

    def _wait_established(self, name: str) -> None:
        deadline = time.monotonic() + max(self.timeout, 10)
        while time.monotonic() < deadline:
            crd = self.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
            conditions = {c["type"]: c["status"] for c in (crd.get("status") or {}).get("conditions") or []}
            if conditions.get("Established") == "True":
                spec = crd["spec"]
                for version in spec.get("versions", []):
                    with self._lock:
                        self._discovery.pop(f"{spec['group']}/{version['name']}", None)
                return
            time.sleep(0.2)
        raise KubeError(f"CustomResourceDefinition {name} was not established in time")

    # --------------------------------------------------------------- delete

    def delete(
        self,
        objects: ObjectOrRef | Iterable[ObjectOrRef],
        *,
        propagation: str = "Foreground",
        wait: bool = True,
        timeout: float = 60,
        namespace: str | None = None,
    ) -> None:
        """Delete objects (dicts or :class:`Ref`); ones already gone are fine.

        With ``wait``, return only once every object (and, with Foreground
        propagation, its dependents) is gone; raise KubeError after ``timeout``.
        """
        if isinstance(objects, (Mapping, Ref)):
            objects = [objects]
        pending: _Pending = []
        for obj in objects:
            ref = Ref.of(obj)
            try:
                res = self.resource(ref.api_version, ref.kind)
            except NotFound:
                continue  # the kind itself is gone (e.g. its CRD was deleted)
            ns = self._namespace_for(res, ref.namespace or namespace)
            body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
            try:
                gone = self._call("DELETE", self._path(res, ns, ref.name), body=body)
            except NotFound:
                continue
            uid = ((gone or {}).get("metadata") or {}).get("uid", "")
            pending.append((ref, res, ns, uid))
        if not wait:
            return
        deadline = time.monotonic() + timeout
        for ref, res, ns, uid in pending:
            while True:
                try:
                    current = self._call("GET", self._path(res, ns, ref.name))
                except NotFound:
                    break
                if uid and current.get("metadata", {}).get("uid") != uid:
                    break  # deleted and created anew by someone else
                if time.monotonic() >= deadline:
                    finalizers = current.get("metadata", {}).get("finalizers") or []
                    raise KubeError(
                        f"{ref} still exists after {timeout:g}s"
                        + (f" (finalizers: {', '.join(finalizers)})" if finalizers else "")
                    )
                time.sleep(0.2)

    # ---------------------------------------------------------------- watch

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: float | None = None,
    ) -> Generator[WatchEvent, None, None]:
        """Yield changes to objects of a kind, until ``timeout_seconds`` (or forever).

        Without ``resource_version`` the current objects come first as ADDED
        events (list, then watch). With one, events after that version come.
        Reconnects when the server ends a watch. When the version is too old
        (HTTP 410 Gone, e.g. compacted), the watch lists again and goes on: see
        :class:`WatchEvent` for the RELIST marker and the events after it.
        """
        res = self.resource(api_version, kind)
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        known: dict[tuple[str, str], dict[str, Any]] = {}
        rv = resource_version

        def key(obj: Mapping[str, Any]) -> tuple[str, str]:
            meta = obj.get("metadata") or {}
            return meta.get("namespace", ""), meta.get("name", "")

        def relist(marker: bool) -> Iterator[WatchEvent]:
            nonlocal rv
            items = self.list(api_version, kind, namespace, label_selector)
            rv = items.resource_version
            if marker:
                yield WatchEvent("RELIST", None)
            seen = set()
            for item in items:
                seen.add(key(item))
                known[key(item)] = item
                yield WatchEvent("ADDED", item)
            for k in [k for k in known if k not in seen]:
                yield WatchEvent("DELETED", known.pop(k))

        if rv is None:
            yield from relist(marker=False)
        while deadline is None or time.monotonic() < deadline:
            remaining = 300.0 if deadline is None else max(1.0, deadline - time.monotonic())
            server_timeout = int(min(remaining, 300)) or 1
            try:
                raw = self._send(
                    "GET",
                    self._path(res, namespace),
                    query=[
                        ("watch", True),
                        ("resourceVersion", rv),
                        ("allowWatchBookmarks", True),
                        ("labelSelector", label_selector),
                        ("timeoutSeconds", server_timeout),
                    ],
                    read_timeout=server_timeout + max(self.timeout, 10),
                )
            except Expired:
                yield from relist(marker=True)
                continue
            expired = False
            try:
                for line in _lines(raw):
                    event = json.loads(line)
                    etype, obj = event.get("type"), event.get("object") or {}
                    if etype == "ERROR":
                        if obj.get("code") == 410:
                            expired = True
                            break
                        raise _status_error(obj)
                    rv = (obj.get("metadata") or {}).get("resourceVersion", rv)
                    if etype == "BOOKMARK":
                        continue
                    obj.setdefault("apiVersion", api_version)
                    obj.setdefault("kind", kind)
                    if etype == "DELETED":
                        known.pop(key(obj), None)
                    else:
                        known[key(obj)] = obj
                    yield WatchEvent(str(etype), obj)
                    if deadline is not None and time.monotonic() >= deadline:
                        return
            except urllib3.exceptions.ReadTimeoutError:
                pass  # no event, not even a bookmark: reconnect from rv
            except urllib3.exceptions.HTTPError as e:
                if not self.health().reachable:
                    raise KubeUnreachable(f"lost the watch on {res.kind}: {_cause(e)}") from e
            finally:
                raw.close()  # never hand a half-read stream back to the pool
                raw.release_conn()
            if expired:
                yield from relist(marker=True)

    # -------------------------------------------------------------- waiting

    def wait_ready(self, obj: ObjectOrRef, timeout: float = 60, poll: float = 0.25) -> Readiness:
        """Poll until :func:`~kube.readiness.readiness` says ready; return it.

        Raises KubeError with the last reason after ``timeout``."""
        ref = Ref.of(obj)
        deadline = time.monotonic() + timeout
        while True:
            state = readiness(self.get_or_none(*ref))
            if state.ready:
                return state
            if time.monotonic() >= deadline:
                raise KubeError(f"{ref} not ready after {timeout:g}s: {state.reason}")
            time.sleep(poll)


def _lines(raw: Any) -> Iterator[str]:
    """Lines of a streamed (chunked) response as they arrive."""
    buffer = b""
    for chunk in raw.stream(amt=None, decode_content=True):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield line.decode("utf-8", errors="replace")
    if buffer.strip():
        yield buffer.decode("utf-8", errors="replace")


def _cause(e: BaseException) -> str:
    reason = getattr(e, "reason", None)
    text = str(reason if reason is not None else e)
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    return text


def _status_error(status: Mapping[str, Any], context: str = "") -> KubeError:
    """Map an API Status object to the matching exception."""
    code = status.get("code")
    reason = status.get("reason")
    message = status.get("message") or reason or f"HTTP {code}"
    if context:
        message = f"{context}: {message}"
    if code == 404:
        return NotFound(message, status=code, reason=reason)
    if code == 410:
        return Expired(message, status=code, reason=reason)
    if code == 409 and reason == "Conflict":
        causes = (status.get("details") or {}).get("causes") or []
        conflicts = [
            FieldConflict(c.get("field", ""), _quoted(c.get("message", "")), c.get("message", ""))
            for c in causes
            if c.get("reason") == "FieldManagerConflict"  # StatusCause.Type is "reason" in JSON
        ]
        if conflicts:
            managers = ", ".join(sorted({c.manager for c in conflicts}))
            fields = ", ".join(c.field for c in conflicts)
            return ApplyConflict(
                f"fields owned by another field manager ({managers}): {fields}; "
                "apply with force=True to take them over",
                conflicts,
            )
    return KubeError(message, status=code, reason=reason)


def _quoted(text: str) -> str:
    start = text.find('"')
    end = text.find('"', start + 1)
    return text[start + 1 : end] if 0 <= start < end else text


def _api_error(code: int, data: bytes, method: str, path: str) -> KubeError:
    try:
        status = json.loads(data)
    except ValueError:
        status = None
    if not isinstance(status, dict) or status.get("kind") != "Status":
        text = data[:300].decode("utf-8", errors="replace").strip()
        status = {"code": code, "message": f"{method} {path} answered HTTP {code}: {text}"}
    status.setdefault("code", code)
    return _status_error(status)
