"""Rendering a type version's manifests: sandboxed Jinja2, then YAML, then Kubernetes objects.

    objects = render_manifests(version, values, instance_name="chat-test", namespace="team-chat",
                               labels={"app.kubernetes.io/instance": "chat-test"})

The template sees ``parameters`` (the validated values), ``instance`` (``name``, ``namespace``,
``labels``), ``labels`` and ``type`` (``slug``, ``name``, ``version``). It runs in Jinja2's
``ImmutableSandboxedEnvironment`` with ``StrictUndefined`` and a budget: every loop iteration,
call, attribute lookup, concatenation and operator is counted against a time limit, sizes are
checked before big strings/lists/numbers are built, and the output is capped. Templates cannot
include or import other templates (there is no loader).

The output is parsed with a ``yaml.SafeLoader`` that refuses aliases (no "billion laughs"),
with limits on size and number of documents. Every error is a :class:`RenderError` naming the
template line or the document and its line in the rendered output.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

import yaml
from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

MAX_TEMPLATE_BYTES = 512 * 1024
MAX_OUTPUT_BYTES = 1024 * 1024
MAX_SECONDS = 2.0
MAX_STEPS = 2_000_000
MAX_INT_BITS = 4096
MAX_DOCUMENTS = 200
TEMPLATE_NAME = "<manifests>"

# Kinds that are not namespaced: a type's instances live in a namespace, so these cannot be
# part of a type (two instances would fight over them).
CLUSTER_SCOPED_KINDS = {
    "APIService",
    "CertificateSigningRequest",
    "ClusterIssuer",
    "ClusterRole",
    "ClusterRoleBinding",
    "CSIDriver",
    "CSINode",
    "CustomResourceDefinition",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PriorityClass",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
}


class RenderError(Exception):
    """A template that does not render into Kubernetes objects; ``str()`` says where and why."""

    def __init__(self, message: str, *, line: int | None = None, document: int | None = None, context: str = ""):
        self.message = message
        self.line = line
        self.document = document
        self.context = context
        super().__init__(self.describe())

    def describe(self) -> str:
        where = []
        if self.document is not None:
            where.append(f"document {self.document}")
        if self.line is not None:
            where.append(f"line {self.line}" + (" of the rendered output" if self.document is not None else ""))
        prefix = f"{self.context}: " if self.context else ""
        return prefix + (", ".join(where) + ": " if where else "") + self.message


class BudgetExceeded(SecurityError):
    pass


# --- the sandbox ----------------------------------------------------------------------------


class _Budget:
    def __init__(self, seconds: float, steps: int):
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.steps_left = steps

    def step(self, n: int = 1) -> None:
        self.steps_left -= n
        if self.steps_left < 0:
            raise BudgetExceeded("the template does too much work (an unbounded or very large loop?)")
        if self.steps_left % 1024 == 0 and time.monotonic() > self.deadline:
            raise BudgetExceeded(f"rendering took longer than {self.seconds:g} s (an unbounded loop?)")

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise BudgetExceeded(f"rendering took longer than {self.seconds:g} s (an unbounded loop?)")


def _size(value: Any) -> int:
    if isinstance(value, str | bytes | list | tuple | dict | set):
        return len(value)
    return 0


def _check_size(value: Any) -> Any:
    if _size(value) > MAX_OUTPUT_BYTES:
        raise BudgetExceeded(f"a value grew beyond {MAX_OUTPUT_BYTES // 1024} KiB")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise BudgetExceeded("a number grew too large")
    return value


def _check_args(args: Iterable[Any]) -> None:
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_OUTPUT_BYTES:
            raise BudgetExceeded(f"the argument {arg} is too large (at most {MAX_OUTPUT_BYTES})")


# Calls whose integer arguments size their result (padding, repetition, ranges).
SIZED_CALLS = {
    "_range",
    "batch",
    "center",
    "expandtabs",
    "indent",
    "ljust",
    "lipsum",
    "rjust",
    "slice",
    "truncate",
    "wordwrap",
    "zfill",
}
_WIDTH_RE = re.compile(r"(\d+)")


def _check_format_string(fmt: Any) -> None:
    if isinstance(fmt, str) and sum(int(n) for n in _WIDTH_RE.findall(fmt) if len(n) < 12) > MAX_OUTPUT_BYTES:
        raise BudgetExceeded("the format string asks for too much padding")
    if isinstance(fmt, str) and any(len(n) >= 12 for n in _WIDTH_RE.findall(fmt)):
        raise BudgetExceeded("the format string asks for too much padding")


class _Instrument(NodeTransformer):
    """Route every loop's iterable and every ``~`` concatenation through the budget."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.Name("__sb_iter", "load"), [node.iter], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(
            nodes.Name("__sb_concat", "load"), [nodes.List(node.nodes)], [], None, None, lineno=node.lineno
        )


class SandboxEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%", "//", "/"})

    def __init__(self) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=[],
        )
        self._local = threading.local()
        self.globals = {
            "range": self._range,
            "__sb_iter": self._iter,
            "__sb_concat": self._concat,
            "dict": dict,
        }
        for name, fn in list(self.filters.items()):
            self.filters[name] = self._guard_filter(name, fn)
        self.filters.update(
            b64encode=lambda v: base64.b64encode(str(v).encode()).decode(),
            b64decode=lambda v: base64.b64decode(str(v).encode()).decode(errors="replace"),
            quote=lambda v: json.dumps(str(v)),
            to_json=lambda v, indent=None: _check_size(json.dumps(v, indent=indent, sort_keys=False)),
            to_yaml=lambda v: _check_size(yaml.safe_dump(v, default_flow_style=True, width=10**6).strip()),
        )

    @property
    def budget(self) -> _Budget | None:
        """The budget of the render running in this thread (renders may run in parallel threads)."""
        return getattr(self._local, "budget", None)

    @budget.setter
    def budget(self, value: _Budget | None) -> None:
        self._local.budget = value

    # every hook of the sandbox counts a step
    def _step(self, n: int = 1) -> None:
        budget = self.budget
        if budget is not None:
            budget.step(n)

    def _range(self, *args: int) -> Iterable[int]:
        _check_args(args)
        return self._iter(range(*args))

    def _iter(self, iterable: Any) -> Iterable[Any]:
        if isinstance(iterable, int | float):
            raise TypeError(f"cannot loop over the number {iterable}")
        for item in iterable:
            self._step()
            yield item

    def _concat(self, parts: list) -> str:
        self._step()
        total = 0
        out = []
        for part in parts:
            text = str(part)
            total += len(text)
            if total > MAX_OUTPUT_BYTES:
                raise BudgetExceeded(f"a value grew beyond {MAX_OUTPUT_BYTES // 1024} KiB")
            out.append(text)
        return "".join(out)

    def _guard_filter(self, name: str, fn: Callable) -> Callable:
        skip = 1 if getattr(fn, "jinja_pass_arg", None) is not None else 0

        @wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            self._step()
            values = list(args[skip:])
            if name in SIZED_CALLS:
                _check_args([*values[1:], *kwargs.values()])
            if name == "replace" and len(values) >= 3:
                subject, old, new = (str(v) for v in values[:3])
                growth = (subject.count(old) if old else len(subject) + 1) * max(0, len(new) - len(old))
                if len(subject) + growth > MAX_OUTPUT_BYTES:
                    raise BudgetExceeded(f"a value grew beyond {MAX_OUTPUT_BYTES // 1024} KiB")
            if name == "indent" and values:
                width = values[1] if len(values) > 1 else kwargs.get("width", 4)
                lines = str(values[0]).count("\n") + 1
                size = width if isinstance(width, int) else len(str(width))
                if size * lines > MAX_OUTPUT_BYTES:
                    raise BudgetExceeded(f"a value grew beyond {MAX_OUTPUT_BYTES // 1024} KiB")
            if name == "format" and values:
                _check_format_string(values[0])
            return _check_size(fn(*args, **kwargs))

        return guarded

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        return _Instrument().visit(tree)

    # sandbox hooks
    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja's signature)
        __self._step()
        called = getattr(__obj, "__name__", "")
        if called in SIZED_CALLS:
            _check_args([*args, *kwargs.values()])
        if called in ("format", "format_map"):
            _check_format_string(getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None))
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        self._step()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self._step()
        return super().getitem(obj, argument)

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        self._step()
        too_big = f"a value grew beyond {MAX_OUTPUT_BYTES // 1024} KiB"
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if _is_seq(seq) and _is_int(times) and len(seq) * max(times, 0) > MAX_OUTPUT_BYTES:
                    raise BudgetExceeded(too_big)
            if _is_int(left) and _is_int(right) and abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
                raise BudgetExceeded("a number grew too large")
        elif operator == "**":
            numbers = isinstance(left, int | float) and isinstance(right, int | float)
            if numbers and abs(left) > 1 and right > 0 and right * math.log2(abs(left)) > MAX_INT_BITS:
                raise BudgetExceeded("a number grew too large")
        elif operator == "+":
            if _is_seq(left) and _is_seq(right) and len(left) + len(right) > MAX_OUTPUT_BYTES:
                raise BudgetExceeded(too_big)
        elif operator == "%" and isinstance(left, str):
            _check_format_string(left)
        return _check_size(super().call_binop(context, operator, left, right))


def _is_seq(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_ENV = SandboxEnvironment()


def _template_line(exc: BaseException) -> int | None:
    """The template line a runtime error happened on (Jinja rewrites tracebacks to template lines)."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == TEMPLATE_NAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def compile_template(source: str, what: str = "template"):
    """A compiled sandboxed template, or RenderError with the line of the syntax error."""
    if not isinstance(source, str):
        raise RenderError(f"the {what} must be text")
    if len(source.encode()) > MAX_TEMPLATE_BYTES:
        raise RenderError(f"the {what} is larger than {MAX_TEMPLATE_BYTES // 1024} KiB")
    try:
        return _compile(source)
    except TemplateSyntaxError as exc:
        raise RenderError(f"syntax error: {exc.message}", line=exc.lineno) from exc
    except RecursionError as exc:
        raise RenderError(f"the {what} is nested too deeply") from exc


@functools.lru_cache(maxsize=256)
def _compile(source: str):
    code = _ENV.compile(source, name=TEMPLATE_NAME, filename=TEMPLATE_NAME)
    return _ENV.template_class.from_code(_ENV, code, _ENV.make_globals(None), None)


def render_text(source: str, context: dict[str, Any], *, seconds: float = MAX_SECONDS) -> str:
    """Render ``source`` in the sandbox with ``context``; RenderError on any problem."""
    template = compile_template(source)
    _ENV.budget = budget = _Budget(seconds, MAX_STEPS)
    out: list[str] = []
    size = 0
    try:
        for chunk in template.generate(**context):
            size += len(chunk)
            if size > MAX_OUTPUT_BYTES:
                raise BudgetExceeded(f"the output is larger than {MAX_OUTPUT_BYTES // 1024} KiB")
            budget.step()
            out.append(chunk)
        budget.check_time()
    except BudgetExceeded as exc:
        raise RenderError(str(exc), line=_template_line(exc)) from None
    except SecurityError as exc:
        raise RenderError(f"not allowed in a template: {exc}", line=_template_line(exc)) from None
    except UndefinedError as exc:
        raise RenderError(f"undefined value: {exc.message}", line=_template_line(exc)) from None
    except TemplateError as exc:
        raise RenderError(str(exc.message or exc), line=_template_line(exc)) from None
    except RecursionError:
        raise RenderError("the template recurses too deeply") from None
    except MemoryError:
        raise RenderError("the template needs too much memory") from None
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        if "no loader" in str(exc):
            raise RenderError("include, import and extends are not available in type templates") from None
        raise RenderError(f"{type(exc).__name__}: {exc}", line=_template_line(exc)) from None
    finally:
        _ENV.budget = None
    return "".join(out)


def render_value(source: str, context: dict[str, Any]) -> str:
    """Render one small template string (binding templates, output name templates)."""
    return render_text(source, context, seconds=0.5)


# --- YAML -----------------------------------------------------------------------------------


class SafeLoader(yaml.SafeLoader):
    """A SafeLoader that refuses aliases, so a small document cannot expand into a huge one."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed in Servicebay manifests", event.start_mark
            )
        return super().compose_node(parent, index)


def load_documents(text: str, *, max_bytes: int = MAX_OUTPUT_BYTES) -> list[tuple[int, int, Any]]:
    """``(document number, first line, data)`` for every non-empty YAML document in ``text``."""
    if len(text.encode()) > max_bytes:
        raise RenderError(f"the YAML is larger than {max_bytes // 1024} KiB")
    loader = SafeLoader(text)
    documents = []
    number = 0
    try:
        while True:
            number += 1  # the document being read, for errors
            if not loader.check_node():
                break
            node = loader.get_node()
            if number > MAX_DOCUMENTS:
                raise RenderError(f"more than {MAX_DOCUMENTS} YAML documents")
            if node is None:
                continue
            data = loader.construct_document(node)
            if data is None:
                continue
            documents.append((number, node.start_mark.line + 1, data))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise RenderError(
            f"invalid YAML: {problem}", document=max(number, 1), line=mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise RenderError(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise RenderError("the YAML is nested too deeply", document=max(number, 1)) from None
    finally:
        loader.dispose()
    return documents


# --- manifests ------------------------------------------------------------------------------


def template_context(version, parameters: dict, *, instance_name: str, namespace: str, labels: dict) -> dict:
    type_ = version.type
    return {
        "parameters": parameters,
        "instance": {"name": instance_name, "namespace": namespace, "labels": dict(labels)},
        "labels": dict(labels),
        "type": {"slug": type_.slug, "name": type_.name, "version": version.version},
    }


def render_manifests(
    version, parameters: dict, *, instance_name: str, namespace: str, labels: dict | None = None
) -> list[dict]:
    """Render ``version``'s manifests for one instance; every object gets ``labels`` and ``namespace``.

    Raises RenderError (syntax, sandbox, budget, YAML, or a document that is not an object).
    """
    labels = dict(labels or {})
    context = template_context(version, parameters, instance_name=instance_name, namespace=namespace, labels=labels)
    text = render_text(version.manifests_template or "", context)
    objects = []
    for number, line, data in load_documents(text):
        problem = object_problem(data)
        if problem:
            raise RenderError(problem, document=number, line=line)
        meta = data["metadata"]
        if data["kind"] in CLUSTER_SCOPED_KINDS:
            raise RenderError(
                f"{data['kind']} is cluster-scoped; a type's objects live in the instance's namespace",
                document=number,
                line=line,
            )
        if meta.get("namespace") not in (None, "", namespace):
            raise RenderError(
                f"metadata.namespace is {meta['namespace']!r}; leave it out, Servicebay uses the instance's namespace",
                document=number,
                line=line,
            )
        meta["namespace"] = namespace
        if labels:
            meta["labels"] = {**(meta.get("labels") or {}), **labels}
        objects.append(data)
    return objects


def object_problem(data: Any) -> str | None:
    """Why ``data`` is not a Kubernetes object (apiVersion, kind, metadata.name), or None."""
    if not isinstance(data, dict):
        return f"a manifest must be a mapping, not {type(data).__name__}"
    missing = [key for key in ("apiVersion", "kind") if not isinstance(data.get(key), str) or not data.get(key)]
    meta = data.get("metadata")
    if not isinstance(meta, dict):
        missing.append("metadata")
    elif not isinstance(meta.get("name"), str) or not meta.get("name"):
        missing.append("metadata.name")
    if missing:
        return f"not a Kubernetes object: {', '.join(missing)} missing"
    if meta.get("labels") is not None and not isinstance(meta.get("labels"), dict):
        return "metadata.labels must be a mapping"
    return None
