"""Making a type from running Kubernetes objects (scenario 2): objects → proposals → template.

Both sources share this code:

* a YAML upload: ``objects_from_yaml(text)``;
* a live cluster: ``objects_from_cluster(kube, namespace, service=…, deployment=…, selector=…)``
  reads the Service/Deployment, the workloads or Services that go with it, and the ConfigMaps
  they reference (Secrets by name only: their data is never read).

``clean_object`` strips what the API server sets (status, uid, resourceVersion, managedFields,
clusterIP, nodePorts, timestamps, server defaults…). ``propose`` lists candidate parameters
(replicas, image tag, env values, resource requests/limits, Service ports and type, ConfigMap
values, Secret names) with types and the current values as defaults. ``build_draft`` turns the
owner's selection into a manifests template, a parameter schema, outputs and a binding
template. Object names become ``{{ instance.name }}`` (or ``{{ instance.name }}-rest``), and
label values and references that name an imported object follow, so two instances never
collide; rendered with the defaults and the original base name, the template gives the
cleaned objects back.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from catalog import schema as sch
from catalog.rendering import RenderError, load_documents, object_problem

MAX_UPLOAD_BYTES = 1024 * 1024
MAX_OBJECTS = 50
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
IMPORTABLE_KINDS = {
    # kind: apiVersion used to read it from a cluster
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "Service": "v1",
    "ConfigMap": "v1",
    "ServiceAccount": "v1",
    "PersistentVolumeClaim": "v1",
    "Ingress": "networking.k8s.io/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "PodDisruptionBudget": "policy/v1",
    "CronJob": "batch/v1",
}
SKIPPED_KINDS = {
    "Pod": "pods belong to a workload; import the Deployment/StatefulSet instead",
    "ReplicaSet": "ReplicaSets belong to a Deployment",
    "Endpoints": "Kubernetes maintains Endpoints",
    "EndpointSlice": "Kubernetes maintains EndpointSlices",
    "Event": "events are not configuration",
    "Secret": "Secrets are referenced by name only; their data is never imported",
}
METADATA_SERVER_FIELDS = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "ownerReferences",
    "namespace",
    "finalizers",
)
SERVER_ANNOTATIONS = re.compile(
    r"^(kubectl\.kubernetes\.io/last-applied-configuration|deployment\.kubernetes\.io/.*|"
    r"kubectl\.kubernetes\.io/restartedAt|pv\.kubernetes\.io/.*|volume\.beta\.kubernetes\.io/.*|"
    r"volume\.kubernetes\.io/.*|control-plane\.alpha\.kubernetes\.io/.*|autoscaling\.alpha\.kubernetes\.io/.*)$"
)
TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
REF_PARENTS = {"configMap", "configMapRef", "configMapKeyRef", "scaleTargetRef", "service", "persistentVolumeClaim"}
REF_KEYS = {"serviceName", "serviceAccountName", "claimName"}


# --- reading --------------------------------------------------------------------------------


@dataclass
class Source:
    """Cleaned objects plus what was left out and why."""

    objects: list[dict]
    notes: list[str] = field(default_factory=list)
    references: list[dict] = field(default_factory=list)
    description: str = ""


def objects_from_yaml(text: str | bytes) -> Source:
    """Objects of an uploaded YAML file (one or more documents, or a ``kind: List``)."""
    if isinstance(text, bytes):
        if len(text) > MAX_UPLOAD_BYTES:
            raise ValidationError({"yaml": f"The file is larger than {MAX_UPLOAD_BYTES // 1024} KiB."})
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError({"yaml": "The file is not UTF-8 text."}) from exc
    if len(text.encode()) > MAX_UPLOAD_BYTES:
        raise ValidationError({"yaml": f"The YAML is larger than {MAX_UPLOAD_BYTES // 1024} KiB."})
    if "\t" in text and not text.strip():
        raise ValidationError({"yaml": "The YAML is empty."})
    try:
        documents = load_documents(text, max_bytes=MAX_UPLOAD_BYTES)
    except RenderError as exc:
        raise ValidationError({"yaml": exc.describe().replace(" of the rendered output", "")}) from exc
    raw = []
    for number, line, data in documents:
        if isinstance(data, dict) and data.get("kind") == "List" and isinstance(data.get("items"), list):
            raw.extend((number, line, item) for item in data["items"])
        else:
            raw.append((number, line, data))
    objects = []
    for number, line, data in raw:
        problem = object_problem(data)
        if problem:
            raise ValidationError({"yaml": f"document {number}, line {line}: {problem}"})
        objects.append(data)
    return select_objects(objects, "the uploaded YAML")


def select_objects(objects: list[dict], description: str) -> Source:
    """Keep importable objects (cleaned); note what is skipped and what is referenced."""
    source = Source(objects=[], description=description)
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind in SKIPPED_KINDS:
            source.notes.append(f"{kind} {name} skipped: {SKIPPED_KINDS[kind]}.")
            continue
        owners = obj["metadata"].get("ownerReferences") or []
        if any(o.get("controller") for o in owners if isinstance(o, dict)):
            source.notes.append(
                f"{kind} {name} skipped: it is managed by {owners[0].get('kind')} {owners[0].get('name')}."
            )
            continue
        from catalog.rendering import CLUSTER_SCOPED_KINDS

        if kind in CLUSTER_SCOPED_KINDS:
            source.notes.append(f"{kind} {name} skipped: it is cluster-scoped; a type lives in one namespace.")
            continue
        source.objects.append(clean_object(obj))
    if not source.objects:
        raise ValidationError({"yaml": "Nothing to import: no Deployment, Service, ConfigMap or similar object found."})
    if len(source.objects) > MAX_OBJECTS:
        raise ValidationError({"yaml": f"More than {MAX_OBJECTS} objects; import a smaller set."})
    keys = [(o["kind"], o["metadata"]["name"]) for o in source.objects]
    duplicates = {f"{k} {n}" for k, n in keys if keys.count((k, n)) > 1}
    if duplicates:
        raise ValidationError({"yaml": f"Objects appear twice: {', '.join(sorted(duplicates))}."})
    source.references.extend(_secret_references(source.objects))
    source.references.extend(_missing_config_maps(source.objects))
    return source


def clean_object(obj: dict) -> dict:
    """A copy without the fields the API server sets."""
    obj = copy.deepcopy(obj)
    obj.pop("status", None)
    meta = obj.setdefault("metadata", {})
    for key in METADATA_SERVER_FIELDS:
        meta.pop(key, None)
    _clean_annotations(meta)
    if not meta.get("labels"):
        meta.pop("labels", None)
    kind = obj.get("kind")
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else None
    if kind == "Service" and spec is not None:
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "healthCheckNodePort"):
            spec.pop(key, None)
        _pop_if(spec, "internalTrafficPolicy", "Cluster")
        _pop_if(spec, "sessionAffinity", "None")
        if spec.get("type") not in ("LoadBalancer",):
            spec.pop("externalTrafficPolicy", None)
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.pop("nodePort", None)
    if kind == "PersistentVolumeClaim" and spec is not None:
        spec.pop("volumeName", None)
    for pod in _pod_templates(obj):
        template_meta = pod.get("metadata")
        if isinstance(template_meta, dict):
            template_meta.pop("creationTimestamp", None)
            _clean_annotations(template_meta)
        pod_spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
        _pop_if(pod_spec, "dnsPolicy", "ClusterFirst")
        _pop_if(pod_spec, "schedulerName", "default-scheduler")
        _pop_if(pod_spec, "securityContext", {})
        _pop_if(pod_spec, "terminationGracePeriodSeconds", 30)
        if kind in ("Deployment", "StatefulSet", "DaemonSet"):
            _pop_if(pod_spec, "restartPolicy", "Always")
        for container in _containers(pod_spec):
            _pop_if(container, "terminationMessagePath", "/dev/termination-log")
            _pop_if(container, "terminationMessagePolicy", "File")
            _pop_if(container, "resources", {})
            resources = container.get("resources")
            for section in ("requests", "limits") if isinstance(resources, dict) else ():
                quantities = resources.get(section)
                if isinstance(quantities, dict):  # 1 and "1" mean the same; the API server answers strings
                    resources[section] = {
                        k: str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
                        for k, v in quantities.items()
                    }
    return obj


def _pop_if(mapping: dict, key: str, default: Any) -> None:
    if mapping.get(key) == default and key in mapping:
        mapping.pop(key)


def _clean_annotations(meta: dict) -> None:
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        for key in [k for k in annotations if SERVER_ANNOTATIONS.match(k)]:
            annotations.pop(key)
        if not annotations:
            meta.pop("annotations", None)


def _pod_templates(obj: dict) -> list[dict]:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if obj.get("kind") == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        return [job["template"]] if isinstance(job.get("template"), dict) else []
    if obj.get("kind") in WORKLOAD_KINDS and isinstance(spec.get("template"), dict):
        return [spec["template"]]
    return []


def _containers(pod_spec: dict) -> list[dict]:
    out = []
    for key in ("initContainers", "containers"):
        out.extend(c for c in pod_spec.get(key) or [] if isinstance(c, dict))
    return out


def _pod_references(obj: dict) -> list[tuple[str, str]]:
    """(kind, name) of ConfigMaps and Secrets a workload's pods use."""
    refs = []
    for pod in _pod_templates(obj):
        pod_spec = pod.get("spec") or {}
        for volume in pod_spec.get("volumes") or []:
            if (volume.get("configMap") or {}).get("name"):
                refs.append(("ConfigMap", volume["configMap"]["name"]))
            if (volume.get("secret") or {}).get("secretName"):
                refs.append(("Secret", volume["secret"]["secretName"]))
            for projected in (volume.get("projected") or {}).get("sources") or []:
                if (projected.get("configMap") or {}).get("name"):
                    refs.append(("ConfigMap", projected["configMap"]["name"]))
                if (projected.get("secret") or {}).get("name"):
                    refs.append(("Secret", projected["secret"]["name"]))
        for secret in pod_spec.get("imagePullSecrets") or []:
            if isinstance(secret, dict) and secret.get("name"):
                refs.append(("Secret", secret["name"]))
        for container in _containers(pod_spec):
            for source in container.get("envFrom") or []:
                if (source.get("configMapRef") or {}).get("name"):
                    refs.append(("ConfigMap", source["configMapRef"]["name"]))
                if (source.get("secretRef") or {}).get("name"):
                    refs.append(("Secret", source["secretRef"]["name"]))
            for env in container.get("env") or []:
                value_from = env.get("valueFrom") or {}
                if (value_from.get("configMapKeyRef") or {}).get("name"):
                    refs.append(("ConfigMap", value_from["configMapKeyRef"]["name"]))
                if (value_from.get("secretKeyRef") or {}).get("name"):
                    refs.append(("Secret", value_from["secretKeyRef"]["name"]))
    return list(dict.fromkeys(refs))


def _secret_references(objects: list[dict]) -> list[dict]:
    out = []
    for obj in objects:
        for kind, name in _pod_references(obj):
            if kind == "Secret":
                out.append({"kind": "Secret", "name": name, "used_by": f"{obj['kind']} {obj['metadata']['name']}"})
    return out


def _missing_config_maps(objects: list[dict]) -> list[dict]:
    present = {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}
    out = []
    for obj in objects:
        for kind, name in _pod_references(obj):
            if kind == "ConfigMap" and name not in present:
                out.append({"kind": "ConfigMap", "name": name, "used_by": f"{obj['kind']} {obj['metadata']['name']}"})
    return out


def _selector_matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def objects_from_cluster(
    kube, namespace: str, *, service: str = "", deployment: str = "", selector: str = ""
) -> Source:
    """Read a Service or Deployment (or everything matching a label selector) and what goes with it."""
    import kube as kube_module

    if sum(bool(x) for x in (service, deployment, selector)) != 1:
        raise ValidationError({"service": "Pick one: a Service, a Deployment or a label selector."})
    if not sch.DNS_LABEL_RE.match(namespace or ""):
        raise ValidationError({"namespace": "Give the namespace (a Kubernetes name)."})
    found: list[dict] = []
    try:
        if selector:
            for kind, api_version in IMPORTABLE_KINDS.items():
                try:
                    found.extend(kube.list(api_version, kind, namespace, label_selector=selector))
                except kube_module.NotFound:
                    continue  # the cluster does not serve this kind
            if not found:
                raise ValidationError({"selector": f"Nothing in {namespace} matches {selector!r}."})
        elif service:
            svc = kube.get_or_none("v1", "Service", service, namespace)
            if svc is None:
                raise ValidationError({"service": f"There is no Service {service!r} in {namespace}."})
            found.append(svc)
            wanted = (svc.get("spec") or {}).get("selector") or {}
            for kind in ("Deployment", "StatefulSet", "DaemonSet"):
                for workload in kube.list("apps/v1", kind, namespace):
                    labels = (((workload.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")
                    if _selector_matches(wanted, labels or {}):
                        found.append(workload)
        else:
            workload = kube.get_or_none("apps/v1", "Deployment", deployment, namespace)
            if workload is None:
                raise ValidationError({"deployment": f"There is no Deployment {deployment!r} in {namespace}."})
            found.append(workload)
            labels = ((workload["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
            for svc in kube.list("v1", "Service", namespace):
                if _selector_matches((svc.get("spec") or {}).get("selector") or {}, labels):
                    found.append(svc)
        have = {(o["kind"], o["metadata"]["name"]) for o in found}
        for obj in list(found):
            for kind, name in _pod_references(obj):
                if kind == "ConfigMap" and (kind, name) not in have:
                    config_map = kube.get_or_none("v1", "ConfigMap", name, namespace)
                    if config_map is not None:
                        found.append(config_map)
                        have.add((kind, name))
    except kube_module.KubeError as exc:
        raise ValidationError({"cluster": f"Cannot read the cluster: {exc}"}) from exc
    what = f"service {service}" if service else f"deployment {deployment}" if deployment else f"selector {selector}"
    return select_objects(found, f"{what} in namespace {namespace}")


# --- proposals ------------------------------------------------------------------------------


@dataclass
class Proposal:
    """A candidate parameter: where it is, its type and current value."""

    name: str  # dotted: replicas, image_tag, env.LOG_LEVEL, resources.limits.cpu
    type: str  # integer | string | number | boolean
    default: Any
    title: str
    description: str
    object: str  # "Deployment chat"
    document: int  # index into the objects
    path: list  # keys/indexes inside the object
    prefix: str = ""  # the value is prefix + parameter (image tags)
    format: str = ""
    minimum: float | None = None
    maximum: float | None = None
    enum: list | None = None
    pattern: str = ""
    widget: str = ""
    selected: bool = True

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


def _key(name: str) -> str:
    key = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_")
    if not key or not re.match(r"^[A-Za-z_]", key):
        key = f"p_{key}"
    return key[:40]


def base_name_of(objects: list[dict]) -> str:
    """The name instances replace: the first Service's, else the first workload's, else the first object's."""
    for kinds in ({"Service"}, WORKLOAD_KINDS, None):
        for obj in objects:
            if kinds is None or obj["kind"] in kinds:
                return obj["metadata"]["name"]
    return "app"


def _short(name: str, base: str) -> str:
    if name == base:
        return ""
    if name.startswith(base + "-"):
        return _key(name[len(base) + 1 :])
    return _key(name)


def propose(objects: list[dict], base_name: str | None = None) -> list[Proposal]:
    base = base_name or base_name_of(objects)
    proposals: list[Proposal] = []
    for index, obj in enumerate(objects):
        kind, name = obj["kind"], obj["metadata"]["name"]
        label = f"{kind} {name}"
        short = _short(name, base)
        prefix = f"{short}_" if short else ""
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        if kind in ("Deployment", "StatefulSet") and isinstance(spec.get("replicas"), int):
            current = spec["replicas"]
            proposals.append(
                Proposal(
                    name=f"{prefix}replicas",
                    type="integer",
                    default=current,
                    title=f"{short.capitalize() + ' r' if short else 'R'}eplicas",
                    description=f"How many pods of {name} run.",
                    object=label,
                    document=index,
                    path=["spec", "replicas"],
                    minimum=0 if current == 0 else 1,
                    maximum=max(10, current * 2),
                )
            )
        for pod in _pod_templates(obj):
            pod_path = ["spec", "template"] if kind != "CronJob" else ["spec", "jobTemplate", "spec", "template"]
            containers = (pod.get("spec") or {}).get("containers") or []
            for c_index, container in enumerate(containers):
                if not isinstance(container, dict):
                    continue
                c_prefix = prefix + (f"{_key(container.get('name', str(c_index)))}_" if len(containers) > 1 else "")
                c_path = [*pod_path, "spec", "containers", c_index]
                proposals.extend(_container_proposals(container, c_prefix, c_path, index, label))
        if kind == "Service":
            ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
            for p_index, port in enumerate(ports):
                if not isinstance(port.get("port"), int):
                    continue
                suffix = "" if len(ports) == 1 else f"_{_key(str(port.get('name') or p_index))}"
                proposals.append(
                    Proposal(
                        name=f"{prefix}port{suffix}",
                        type="integer",
                        default=port["port"],
                        title=f"Service port{' ' + str(port.get('name')) if suffix and port.get('name') else ''}",
                        description=f"The port {name} listens on.",
                        object=label,
                        document=index,
                        path=["spec", "ports", p_index, "port"],
                        minimum=1,
                        maximum=65535,
                    )
                )
            proposals.append(
                Proposal(
                    name=f"{prefix}service_type",
                    type="string",
                    default=spec.get("type", "ClusterIP"),
                    title="Service type",
                    description=f"How {name} is exposed.",
                    object=label,
                    document=index,
                    path=["spec", "type"],
                    enum=["ClusterIP", "NodePort", "LoadBalancer"],
                    selected=False,
                )
            )
        if kind == "ConfigMap":
            for data_key, value in (obj.get("data") or {}).items():
                if not isinstance(value, str) or len(value) > 4096:
                    continue
                proposals.append(
                    Proposal(
                        name=f"{_key(short or 'config')}.{_key(data_key)}",
                        type="string",
                        default=value,
                        title=data_key,
                        description=f"{data_key} in ConfigMap {name}.",
                        object=label,
                        document=index,
                        path=["data", data_key],
                        widget="textarea" if "\n" in value else "",
                        selected=False,
                    )
                )
    _dedupe(proposals)
    return proposals


def _container_proposals(container: dict, prefix: str, path: list, index: int, label: str) -> list[Proposal]:
    out = []
    who = container.get("name", "the container")
    image = container.get("image")
    if isinstance(image, str) and image:
        repo, tag = _split_image(image)
        if tag is not None:
            out.append(
                Proposal(
                    name=f"{prefix}image_tag",
                    type="string",
                    default=tag,
                    title="Image tag",
                    description=f"Tag of {repo} that {who} runs.",
                    object=label,
                    document=index,
                    path=[*path, "image"],
                    prefix=f"{repo}:",
                    pattern=TAG_PATTERN,
                )
            )
        elif "@" not in image:
            out.append(
                Proposal(
                    name=f"{prefix}image",
                    type="string",
                    default=image,
                    title="Image",
                    description=f"The image {who} runs.",
                    object=label,
                    document=index,
                    path=[*path, "image"],
                )
            )
    for e_index, env in enumerate(container.get("env") or []):
        if isinstance(env, dict) and isinstance(env.get("value"), str) and env.get("name"):
            out.append(
                Proposal(
                    name=f"{prefix}env.{_key(env['name'])}",
                    type="string",
                    default=env["value"],
                    title=env["name"],
                    description=f"Environment variable {env['name']} of {who}.",
                    object=label,
                    document=index,
                    path=[*path, "env", e_index, "value"],
                )
            )
    resources = container.get("resources") or {}
    for section in ("requests", "limits"):
        for resource, value in (resources.get(section) or {}).items():
            if resource not in ("cpu", "memory", "ephemeral-storage"):
                continue
            out.append(
                Proposal(
                    name=f"{prefix}resources.{section}.{_key(resource)}",
                    type="string",
                    default=str(value),
                    title=f"{resource.capitalize()} {section[:-1] if section == 'limits' else 'request'}",
                    description=f"{resource} {section} of {who} (a Kubernetes quantity such as 500m or 1Gi).",
                    object=label,
                    document=index,
                    path=[*path, "resources", section, resource],
                    format="k8s-quantity",
                )
            )
    return out


def _split_image(image: str) -> tuple[str, str | None]:
    if "@" in image:
        return image, None
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = image.rsplit(":", 1)
        return repo, tag
    return image, None


def _dedupe(proposals: list[Proposal]) -> None:
    seen: dict[str, int] = {}
    for proposal in proposals:
        if proposal.name in seen:
            seen[proposal.name] += 1
            head, dot, tail = proposal.name.rpartition(".")
            proposal.name = (
                f"{head}{dot}{tail}_{seen[proposal.name]}" if dot else f"{proposal.name}_{seen[proposal.name]}"
            )
        else:
            seen[proposal.name] = 1
    # A leaf and a group cannot share a name (e.g. "env" and "env.X").
    names = {p.name for p in proposals}
    for proposal in proposals:
        if any(other.startswith(proposal.name + ".") for other in names):
            proposal.name = f"{proposal.name}_value"


# --- the draft ------------------------------------------------------------------------------


@dataclass
class Draft:
    objects: list[dict]
    template: str
    schema: dict
    outputs: list[dict]
    binding_template: dict
    parameters: list[Proposal]
    base_name: str


SELECTION_KEYS = {"name", "title", "description", "default", "minimum", "maximum", "enum", "pattern", "format"}


def _apply_selection(proposals: list[Proposal], selections: list[dict] | None) -> list[Proposal]:
    if selections is None:
        return [p for p in proposals if p.selected]
    by_name = {p.name: p for p in proposals}
    chosen = []
    for entry in selections:
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or entry.get("name") not in by_name:
            name = entry.get("name") if isinstance(entry, dict) else entry
            raise ValidationError(
                {"parameters": f"{name!r} is not a proposed parameter; choose from {', '.join(sorted(by_name))}."}
            )
        unknown = set(entry) - SELECTION_KEYS
        if unknown:
            raise ValidationError({"parameters": f"{entry['name']}: unknown keys {', '.join(sorted(unknown))}."})
        proposal = copy.deepcopy(by_name[entry["name"]])
        for key in ("title", "description", "default", "minimum", "maximum", "enum", "pattern", "format"):
            if key in entry and entry[key] not in (None, ""):
                setattr(proposal, key, entry[key])
        chosen.append(proposal)
    return chosen


def _leaf_schema(p: Proposal, order: int) -> dict:
    leaf: dict[str, Any] = {"type": p.type, "title": p.title, "description": p.description, "default": p.default}
    if p.format:
        leaf["format"] = p.format
    if p.type in ("integer", "number"):
        if p.minimum is not None:
            leaf["minimum"] = p.minimum
        if p.maximum is not None:
            leaf["maximum"] = p.maximum
    if p.enum:
        leaf["enum"] = p.enum
    if p.pattern:
        leaf["pattern"] = p.pattern
    if p.widget:
        leaf["x-widget"] = p.widget
    leaf["x-order"] = order
    return leaf


def _build_schema(chosen: list[Proposal]) -> dict:
    root: dict[str, Any] = {"$schema": sch.DEFAULT_DRAFT, "type": "object", "properties": {}}
    for order, proposal in enumerate(chosen, start=1):
        node = root
        parts = proposal.name.split(".")
        for part in parts[:-1]:
            node = node["properties"].setdefault(
                part,
                {"type": "object", "title": part.replace("_", " ").capitalize(), "x-order": order, "properties": {}},
            )
        node["properties"][parts[-1]] = _leaf_schema(proposal, order)
    return root


def _expression(proposal: Proposal) -> str:
    ref = "parameters" + "".join(f"[{json.dumps(part)}]" for part in proposal.name.split("."))
    if proposal.prefix:
        return f"{{{{ ({json.dumps(proposal.prefix)} ~ {ref}) | tojson }}}}"
    return f"{{{{ {ref} | tojson }}}}"


def _name_expression(original: str, base: str) -> str:
    if original == base:
        return '"{{ instance.name }}"'
    if original.startswith(base + "-"):
        return f'"{{{{ instance.name }}}}-{original[len(base) + 1 :]}"'
    return f'"{{{{ instance.name }}}}-{original}"'


class _Tokens:
    def __init__(self) -> None:
        self.map: dict[str, str] = {}

    def add(self, expression: str) -> str:
        token = f"SBAYTOKEN{len(self.map):05d}X"
        self.map[token] = expression
        return token


def _rename_references(value: Any, names: dict[str, str], tokens: _Tokens, parent: str = "", labels: bool = False):
    """Replace label values and references that name an imported object by its name expression."""
    if isinstance(value, dict):
        for key, child in value.items():
            is_labels = key in ("labels", "matchLabels") or (key == "selector" and parent in ("", "spec"))
            if isinstance(child, str):
                is_reference = key in REF_KEYS or (key == "name" and parent in REF_PARENTS)
                if child in names and (labels or is_reference):
                    value[key] = tokens.add(names[child])
            else:
                _rename_references(child, names, tokens, key, is_labels)
    elif isinstance(value, list):
        for child in value:
            _rename_references(child, names, tokens, parent, False)


def _escape_jinja(value: Any, tokens: _Tokens) -> Any:
    """Strings that look like Jinja are emitted as Jinja string literals, so they render as they are."""
    if isinstance(value, dict):
        return {k: _escape_jinja(v, tokens) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape_jinja(v, tokens) for v in value]
    if isinstance(value, str) and re.search(r"\{[{%#]|[}%#]\}", value):
        return tokens.add(f"{{{{ {json.dumps(value)} | tojson }}}}")
    return value


def _set(obj: Any, path: list, value: Any) -> None:
    for part in path[:-1]:
        obj = obj[part]
    obj[path[-1]] = value


def _get(obj: Any, path: list) -> Any:
    for part in path:
        obj = obj[part]
    return obj


def build_draft(objects: list[dict], selections: list[dict] | None, *, base_name: str | None = None) -> Draft:
    """Template, schema, outputs and binding template for ``objects`` with the chosen parameters."""
    if not objects:
        raise ValidationError({"objects": "Nothing to import."})
    for obj in objects:
        problem = object_problem(obj)
        if problem:
            raise ValidationError({"objects": problem})
    objects = [clean_object(o) for o in objects]
    base = base_name or base_name_of(objects)
    if not sch.DNS_LABEL_RE.match(base):
        raise ValidationError({"base_name": f"{base!r} is not a Kubernetes name."})
    proposals = propose(objects, base)
    chosen = _apply_selection(proposals, selections)
    tokens = _Tokens()
    working = [_escape_jinja(copy.deepcopy(o), tokens) for o in objects]
    for proposal in chosen:
        current = _get(objects[proposal.document], proposal.path)
        expected = f"{proposal.prefix}{_get_default(proposal, proposals)}"
        if proposal.prefix and not str(current).startswith(proposal.prefix):
            raise ValidationError({"parameters": f"{proposal.name}: the object changed ({expected} ≠ {current})."})
        _set(working[proposal.document], proposal.path, tokens.add(_expression(proposal)))
    names = {o["metadata"]["name"]: _name_expression(o["metadata"]["name"], base) for o in objects}
    for obj in working:
        obj["metadata"]["name"] = tokens.add(names[obj["metadata"]["name"]])
        _rename_references(obj, names, tokens)
    documents = []
    for obj in working:
        text = yaml_dump(obj)
        documents.append(text)
    template = "---\n".join(documents)
    for token, expression in tokens.map.items():
        template = template.replace(token, expression)
    schema = _build_schema(chosen)
    # Defaults the owner chose become the values the template renders with by default.
    outputs, binding = _outputs_for(objects, base)
    return Draft(objects, template, schema, outputs, binding, chosen, base)


def _get_default(proposal: Proposal, proposals: list[Proposal]) -> Any:
    for original in proposals:
        if original.name == proposal.name:
            return original.default
    return proposal.default


def yaml_dump(obj: Any) -> str:
    import yaml

    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, width=4096, allow_unicode=True)


def _outputs_for(objects: list[dict], base: str) -> tuple[list[dict], dict]:
    services = [o for o in objects if o["kind"] == "Service"]
    if not services:
        return [], {}
    service = services[0]
    name_template = _name_expression(service["metadata"]["name"], base).strip('"')
    outputs = [
        {
            "name": "service_name",
            "from": {"kind": "Service", "name_template": name_template, "jsonpath": ".metadata.name"},
        }
    ]
    binding = {"host": "{{ outputs.service_name }}.{{ instance.namespace }}.svc"}
    ports = (service.get("spec") or {}).get("ports") or []
    if ports:
        outputs.append(
            {
                "name": "port",
                "from": {"kind": "Service", "name_template": name_template, "jsonpath": ".spec.ports[0].port"},
            }
        )
        binding["port"] = "{{ outputs.port }}"
    return outputs, binding


def preview(source: Source, base_name: str | None = None) -> dict:
    """What the wizard and ``sbay types import --dry-run`` show before anything is saved."""
    base = base_name or base_name_of(source.objects)
    proposals = propose(source.objects, base)
    return {
        "description": source.description,
        "base_name": base,
        "objects": source.objects,
        "proposals": [p.as_dict() for p in proposals],
        "references": source.references,
        "notes": source.notes,
    }
