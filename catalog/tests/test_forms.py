"""The generated deploy form: widgets, HTML constraints, fieldsets, locks, errors next to fields."""

from __future__ import annotations

import pytest

from catalog import services
from catalog.schemaform import html_pattern, parameter_form_class, parameter_reference

PASSWORD = "correct horse battery"


def attrs(form, name) -> dict:
    return form.fields[name].widget.attrs


def test_widgets_and_html_constraints(chat_version):
    form = parameter_form_class(chat_version)()
    html = str(form["replicas"])
    assert 'type="number"' in html and 'min="1"' in html and 'max="10"' in html and 'step="1"' in html
    assert 'value="1"' in html  # the default is filled in
    assert attrs(form, "image_tag")["pattern"] == "[0-9]+\\.[0-9]+\\.[0-9]+"
    assert "<select" in str(form["log_level"]) and '<option value="info" selected>' in str(form["log_level"])
    password = str(form["admin_password"])
    assert 'type="password"' in password and "required" in password and "value=" not in password
    assert attrs(form, "admin_password")["minlength"] == 12 and attrs(form, "admin_password")["maxlength"] == 128
    cpu = str(form["resources.limits.cpu"])
    assert 'name="resources.limits.cpu"' in cpu and 'value="500m"' in cpu and "pattern=" in cpu
    assert form["replicas"].help_text == "How many chat server pods run. (1–10)"
    legends = [fs.legend for fs, _ in form.fieldsets]
    assert legends == ["", "Resources › Requests", "Resources › Limits"]
    assert [bf.name for bf in form.fieldsets[0][1]] == ["image_tag", "replicas", "log_level", "port", "admin_password"]


def test_locked_values_are_read_only_and_not_submitted(chat_version):
    small = chat_version.type.plans.get(slug="small")
    form = parameter_form_class(chat_version, small)(
        {"replicas": "7", "admin_password": PASSWORD, "image_tag": "1.5.0", "log_level": "info", "port": "80"}
    )
    assert form.fields["replicas"].disabled and form.fields["resources.limits.cpu"].disabled
    assert "disabled" in str(form["replicas"]) and "Locked by plan Small" in form["replicas"].help_text
    assert form.is_valid(), form.errors
    assert form.values["replicas"] == 1 and form.values["image_tag"] == "1.5.0"  # the posted 7 is ignored


def test_errors_appear_next_to_their_field(chat_version):
    form = parameter_form_class(chat_version)(
        {
            "replicas": "99",
            "image_tag": "latest",
            "log_level": "loud",
            "port": "eighty",
            "admin_password": "short",
            "resources.limits.cpu": "lots",
        }
    )
    assert not form.is_valid()
    assert form.errors == {
        "replicas": ["Must be at most 10."],
        "image_tag": ["Must match the pattern ^[0-9]+\\.[0-9]+\\.[0-9]+$."],
        "log_level": ["Must be one of: debug, info, warn, error."],
        "port": ["Must be a whole number."],
        "admin_password": ["Must be at least 12 characters long."],
        "resources.limits.cpu": ["Must be a valid Kubernetes quantity (e.g. 500m, 1.5, 2Gi)."],
    }
    assert "is-invalid" in str(form["replicas"]) and "short" not in str(form["admin_password"])


def test_empty_inputs_take_the_default(chat_version):
    form = parameter_form_class(chat_version)({"admin_password": PASSWORD, "replicas": "", "resources.limits.cpu": ""})
    assert form.is_valid(), form.errors
    assert form.values["replicas"] == 1 and form.values["resources"]["limits"]["cpu"] == "500m"
    assert form.masked_values["admin_password"] == "********"
    form = parameter_form_class(chat_version)({})
    assert not form.is_valid() and form.errors == {"admin_password": ["This parameter is required."]}


SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "properties": {
        "debug": {"type": "boolean", "default": True, "title": "Debug mode"},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1, "exclusiveMaximum": True, "default": 0.5},
        "hosts": {
            "type": "array",
            "items": {"type": "string", "format": "hostname"},
            "minItems": 1,
            "default": ["a.example"],
        },
        "ports": {"type": "array", "items": {"type": "integer"}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "email": {"type": "string", "format": "email"},
        "since": {"type": "string", "format": "date"},
        "size": {"type": "integer", "enum": [1, 3, 5], "default": 3},
        "notes": {"type": "string", "maxLength": 2000},
        "tier": {"type": "string", "enum": ["gold", "silver"], "x-widget": "radio"},
    },
}


@pytest.fixture
def kitchen_sink(owner, org, team):
    type_ = services.create_type(actor=owner, org=org, owner_team=team, slug="sink", name="Sink")
    version = services.create_version(
        actor=owner,
        type_=type_,
        version="1.0.0",
        parameter_schema=SCHEMA,
        manifests_template=(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: '{{ instance.name }}'\n"
            "data:\n  x: '{{ parameters.ratio }}'\n"
        ),
    )
    services.publish_version(actor=owner, version=version)
    version.type = type_
    return version


def test_every_kind_of_field(kitchen_sink):
    form = parameter_form_class(kitchen_sink)()
    assert 'type="checkbox"' in str(form["debug"]) and "checked" in str(form["debug"])
    assert 'step="any"' in str(form["ratio"]) and 'max="1"' in str(form["ratio"])
    assert "<textarea" in str(form["hosts"]) and "a.example</textarea>" in str(form["hosts"])
    assert 'type="email"' in str(form["email"]) and 'type="date"' in str(form["since"])
    assert '<option value="3" selected>' in str(form["size"])
    assert "<textarea" in str(form["notes"]) and 'type="radio"' in str(form["tier"])
    form = parameter_form_class(kitchen_sink)(
        {
            "ratio": "0.25",
            "hosts": "a.example\r\nb.example\n\n",
            "ports": "80\n443",
            "labels": '{"a": "b"}',
            "size": "5",
        }
    )
    assert form.is_valid(), form.errors
    assert form.values == {
        "debug": False,  # an unticked checkbox
        "ratio": 0.25,
        "hosts": ["a.example", "b.example"],
        "ports": [80, 443],
        "labels": {"a": "b"},
        "size": 5,
    }
    form = parameter_form_class(kitchen_sink)(
        {
            "ratio": "1",
            "hosts": "not a host!",
            "ports": "80\nhttp",
            "labels": "{oops",
            "email": "nope",
            "size": "4",
            "since": "yesterday",
        }
    )
    assert not form.is_valid()
    assert form.errors == {
        "ratio": ["Must be less than 1."],
        "hosts": ["Must be a valid hostname."],
        "ports": ["Must be a whole number."],
        "labels": ["Must be an object."],
        "email": ["Must be a valid email address."],
        "size": ["Must be one of: 1, 3, 5."],
        "since": ["Must be a valid date (YYYY-MM-DD)."],
    }


def test_html_patterns():
    assert html_pattern("^[a-z]+$") == "[a-z]+"
    assert html_pattern("abc") == ".*(?:abc).*"
    assert html_pattern("^[a-z0-9_.-]+$") == "[a-z0-9_.\\-]+"


def test_parameter_reference(chat_version):
    rows = {row.name: row for row in parameter_reference(chat_version, list(chat_version.type.plans.all()))}
    assert rows["replicas"].constraints == "1–10" and rows["replicas"].locked_by == ["small"]
    assert rows["admin_password"].secret and rows["admin_password"].default == "" and rows["admin_password"].required
    assert (
        rows["resources.limits.cpu"].type == "string (k8s-quantity)" and rows["resources.limits.cpu"].default == "500m"
    )
