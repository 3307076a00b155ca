"""Property test: the generated form, the API and the CLI agree on every set of parameters.

Hypothesis generates valid and invalid values for a set of schemas (scalars with bounds,
patterns, enums and formats; nested objects; a secret; lists; a draft-04 schema; a plan that
locks a parameter). Each case goes through

* the form, as a browser would post it (untouched fields keep their prefilled default, empty
  means "not given", locked fields are not posted),
* the API (``POST /api/v1/types/{slug}/validate/``, JSON),
* the CLI (``sbay types validate TYPE -p key=value …`` against a live server),

and the three must agree: all valid with the same values (secrets masked), or all invalid with
errors on the same fields (JSON pointers for the API and CLI, the matching form fields).

What a browser cannot express is not generated: empty strings and empty lists (an empty input
means "not given"), invalid booleans (a checkbox), and numbers typed as text ("7" for an
integer is 7 in a form).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from catalog import schema as sch
from catalog import services
from catalog.models import TypeVersion
from catalog.schemaform import display_value, parameter_form_class
from conftest import api_client_for
from sbay.cli import main as sbay

ABSENT = "<absent>"
LETTERS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ_-!", min_size=1, max_size=14).filter(
    lambda s: s.strip() == s and not s.startswith("-")
)

MANIFEST = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: "{{ instance.name }}-config"
data:
  parameters: {{ parameters | tojson | tojson }}
"""

SCHEMAS = {
    "flat": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 3, "maxLength": 12, "pattern": "^[a-z][a-z0-9-]*$", "x-order": 1},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 5, "default": 1, "x-order": 2},
            "ratio": {"type": "number", "minimum": 0, "maximum": 1, "x-order": 3},
            "tier": {"type": "string", "enum": ["bronze", "silver", "gold"], "default": "silver", "x-order": 4},
            "debug": {"type": "boolean", "default": False, "x-order": 5},
            "email": {"type": "string", "format": "email", "x-order": 6},
        },
    },
    "nested": {
        "type": "object",
        "required": ["password"],
        "properties": {
            "password": {"type": "string", "writeOnly": True, "minLength": 8, "x-order": 1},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 8080, "x-order": 2},
            "resources": {
                "type": "object",
                "x-order": 3,
                "properties": {
                    "limits": {
                        "type": "object",
                        "properties": {
                            "cpu": {"type": "string", "format": "k8s-quantity", "default": "500m", "x-order": 1},
                            "memory": {"type": "string", "format": "k8s-quantity", "default": "256Mi", "x-order": 2},
                        },
                    }
                },
            },
        },
    },
    "lists": {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {
            "hosts": {
                "type": "array",
                "items": {"type": "string", "format": "hostname"},
                "minItems": 1,
                "maxItems": 3,
                "default": ["a.example"],
                "x-order": 1,
            },
            "ports": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 65535}, "x-order": 2},
            "weight": {"type": "integer", "minimum": 0, "maximum": 100, "exclusiveMaximum": True, "x-order": 3},
        },
    },
}
PLANS = {"flat": {"slug": "gold", "name": "Gold", "values": {"tier": "gold"}, "locked": ["tier"]}}

HOSTNAME = st.from_regex(r"\A[a-z][a-z0-9]{0,6}(\.[a-z][a-z0-9]{0,6}){0,2}\Z")
NOT_A_HOST = st.sampled_from(["not a host", "under_score", "bad!", "-dash"])


def integers(low, high):
    return st.one_of(
        st.integers(low, high),
        st.integers(high + 1, high + 1000),
        st.integers(low - 1000, low - 1),
        st.floats(low, high, allow_nan=False).map(lambda x: round(x, 2) + 0.5),
        LETTERS,
    )


LEAVES = {
    "flat": {
        ("name",): st.one_of(st.from_regex(r"\A[a-z][a-z0-9-]{2,11}\Z"), LETTERS),
        ("replicas",): integers(1, 5),
        ("ratio",): st.one_of(
            st.floats(0, 1, allow_nan=False), st.floats(1.01, 100, allow_nan=False), st.floats(-5, -0.01), LETTERS
        ),
        ("tier",): st.one_of(st.sampled_from(["bronze", "silver", "gold"]), LETTERS),
        ("debug",): st.booleans(),
        ("email",): st.one_of(st.sampled_from(["a@example.com", "dev.ops@acme.example"]), LETTERS),
    },
    "nested": {
        ("password",): LETTERS,
        ("port",): integers(1, 65535),
        ("resources", "limits", "cpu"): st.one_of(st.sampled_from(["100m", "1", "2Gi", "0.5", "1e3"]), LETTERS),
        ("resources", "limits", "memory"): st.one_of(st.sampled_from(["64Mi", "1Gi"]), LETTERS),
    },
    "lists": {
        ("hosts",): st.lists(st.one_of(HOSTNAME, NOT_A_HOST), min_size=1, max_size=5),
        ("ports",): st.lists(
            st.one_of(st.integers(1, 65535), st.integers(65536, 70000), LETTERS), min_size=1, max_size=4
        ),
        ("weight",): integers(0, 100),
    },
}


def cases(name: str, plan: bool):
    leaves = {path: strategy for path, strategy in LEAVES[name].items() if not (plan and path == ("tier",))}
    return st.fixed_dictionaries({path: st.one_of(st.just(ABSENT), strategy) for path, strategy in leaves.items()})


def as_params(case: dict) -> dict:
    params: dict = {}
    for path, value in case.items():
        if value is not ABSENT:
            sch.set_path(params, path, value)
    return params


def as_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "\n".join(as_text(v) for v in value)
    return str(value) if not isinstance(value, float) else repr(value)


def as_post(form_class, case: dict) -> dict:
    """What a browser posts: typed text, the prefilled value of untouched fields, nothing for locked ones."""
    unbound = form_class()
    data = {}
    for leaf in form_class.leaves:
        field = unbound.fields[leaf.name]
        if field.disabled:
            continue
        value = case.get(leaf.path, ABSENT)
        if leaf.kind == "boolean":
            checked = value if value is not ABSENT else bool(field.initial)
            if checked:
                data[leaf.name] = "on"
            continue
        data[leaf.name] = as_text(value) if value is not ABSENT else (field.initial or "")
    return data


def as_cli_args(case: dict) -> list[str]:
    args = []
    for path, value in case.items():
        if value is ABSENT:
            continue
        text = ",".join(as_text(v) for v in value) if isinstance(value, list) else as_text(value)
        args += ["-p", f"{sch.dotted(path)}={text}"]
    return args


@pytest.fixture
def property_types(owner, org, team):
    versions = {}
    for name, schema in SCHEMAS.items():
        type_ = services.create_type(actor=owner, org=org, owner_team=team, slug=f"prop-{name}", name=name)
        version = services.create_version(
            actor=owner, type_=type_, version="1.0.0", manifests_template=MANIFEST, parameter_schema=schema
        )
        if name in PLANS:
            services.create_plan(actor=owner, type_=type_, **PLANS[name])
        services.publish_version(actor=owner, version=version)
        versions[name] = TypeVersion.objects.select_related("type").get(pk=version.pk)
    return versions


@pytest.fixture
def cli(live_server, owner, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SBAY_CONFIG", str(tmp_path / "sbay.json"))
    for name in ("SBAY_URL", "SBAY_TOKEN", "SBAY_ORG"):
        monkeypatch.delenv(name, raising=False)
    _, key = services_token(owner)
    assert sbay(["login", "--url", live_server.url, "--token", key]) == 0
    capsys.readouterr()

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = sbay(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def services_token(user):
    from portal.services import create_api_token

    return create_api_token(user=user, name="property")


def check_agreement(version, plan, case, api, cli):
    params = as_params(case)
    slug = version.type.slug
    # API
    body = {"parameters": params, **({"plan": plan.slug} if plan else {})}
    response = api.post(f"/api/v1/types/{slug}/validate/", body, format="json")
    assert response.status_code in (200, 400), response.content
    api_ok = response.status_code == 200
    api_result = response.json()["values"] if api_ok else response.json()["error"]["fields"]
    # form
    form_class = parameter_form_class(version, plan)
    form = form_class(as_post(form_class, case))
    form_ok = form.is_valid()
    # CLI
    argv = ["types", "validate", slug, "-o", "json", *(["--plan", plan.slug] if plan else []), *as_cli_args(case)]
    code, out, err = cli(*argv)
    cli_ok = code == 0
    event("valid" if api_ok else f"invalid: {len(api_result)} field(s)")
    assert api_ok == form_ok == cli_ok, (case, api_result, form.errors, err)
    if api_ok:
        assert form.masked_values == api_result, case
        assert json.loads(out)["values"] == api_result, case
    else:
        assert code == 5, err
        cli_pointers = {
            line.removeprefix("sbay:   ").split(": ", 1)[0] for line in err.splitlines() if line.startswith("sbay:   ")
        }
        assert cli_pointers == set(api_result), (case, err, api_result)
        expected_fields = {form.field_for_pointer(p) or "__all__" for p in api_result}
        assert set(form.errors) == expected_fields, (case, form.errors, api_result)


SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize(("name", "with_plan"), [("flat", False), ("flat", True), ("nested", False), ("lists", False)])
def test_form_api_and_cli_agree(name, with_plan, property_types, cli, owner):
    version = property_types[name]
    plan = version.type.plans.get() if with_plan else None
    api = api_client_for(owner)

    @SETTINGS
    @given(case=cases(name, with_plan))
    def agree(case):
        check_agreement(version, plan, case, api, cli)

    agree()


def test_prefilled_text_round_trips(property_types):
    """The text a form shows for a default converts back to that default (what 'untouched' relies on)."""
    for version in property_types.values():
        for leaf in sch.leaves(version.parameter_schema):
            if leaf.has_default:
                form_class = parameter_form_class(version)
                field = form_class().fields[leaf.name]
                text = display_value(leaf.kind, leaf.schema["default"], item_kind=leaf.item_kind)
                if leaf.kind != "boolean":
                    assert field.convert(text) == leaf.schema["default"], leaf.name
