"""catalog.schema and catalog.parameters: schema checks, merging, JSON-pointer errors, locks, secrets."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from catalog import schema as sch
from catalog.parameters import validate_parameters
from catalog.tests.conftest import make_chat


def errors_of(version, plan, params, **kwargs) -> dict:
    with pytest.raises(ValidationError) as info:
        validate_parameters(version, plan, params, **kwargs)
    return info.value.message_dict


class TestCheckSchema:
    @pytest.mark.parametrize(
        ("schema", "fragment"),
        [
            ([], "must be a JSON object"),
            ({"type": "object", "properties": {"a": {"type": "intger"}}}, "/properties/a/type"),
            ({"type": "array"}, 'root of a parameter schema must be "type": "object"'),
            ({"$schema": "http://example.com/my-draft", "type": "object"}, "Unsupported $schema"),
            ({"type": "object", "properties": {"a.b": {"type": "string"}}}, "parameter names must start"),
            ({"type": "object", "properties": {"a": {"$ref": "https://evil.example/s.json"}}}, "only local references"),
            ({"type": "object", "properties": {"a": {"type": "string", "pattern": "(a+)+$"}}}, "nests quantifiers"),
            ({"type": "object", "properties": {"a": {"type": "string", "pattern": "(["}}}, "not a valid regular"),
            ({"type": "object", "properties": {"a": {"type": "integer", "default": "x"}}}, "/properties/a/default"),
            ({"type": "object", "properties": {"a": {"type": "integer", "minimum": 5, "default": 1}}}, "less than"),
            (
                {"type": "object", "properties": {"pw": {"type": "string", "writeOnly": True, "default": "hunter22"}}},
                "writeOnly (secret) parameter cannot have a default",
            ),
            ({"type": "object", "properties": {"a": {"type": "string", "x-widget": "fancy"}}}, "unknown widget"),
        ],
    )
    def test_invalid_schemas_name_the_problem(self, schema, fragment):
        problems = sch.check_schema(schema)
        assert problems and any(fragment in p for p in problems), problems

    def test_valid_schemas(self):
        from catalog.demo import CHAT_SCHEMA

        assert sch.check_schema(CHAT_SCHEMA) == []
        draft4 = {
            "$schema": "http://json-schema.org/draft-04/schema#",
            "type": "object",
            "properties": {"n": {"type": "integer", "minimum": 0, "exclusiveMinimum": True, "default": 1}},
        }
        assert sch.check_schema(draft4) == []

    def test_defaults_fill_nested_objects(self):
        from catalog.demo import CHAT_SCHEMA

        defaults = sch.defaults(CHAT_SCHEMA)
        assert defaults["resources"]["limits"] == {"cpu": "500m", "memory": "256Mi"}
        assert "admin_password" not in defaults and defaults["replicas"] == 1


class TestValidateParameters:
    def test_merges_defaults_plan_and_given(self, chat_version):
        small = chat_version.type.plans.get(slug="small")
        values = validate_parameters(chat_version, small, {"admin_password": "a-long-password", "log_level": "debug"})
        assert values["replicas"] == 1 and values["log_level"] == "debug" and values["image_tag"] == "1.4.2"
        assert values["resources"]["limits"]["cpu"] == "500m"
        large = chat_version.type.plans.get(slug="large")
        values = validate_parameters(chat_version, large, {"admin_password": "a-long-password", "replicas": 5})
        assert values["replicas"] == 5 and values["resources"]["limits"]["cpu"] == "2"

    def test_errors_are_keyed_by_json_pointer(self, chat_version):
        errors = errors_of(
            chat_version,
            None,
            {
                "replicas": 11,
                "image_tag": "latest",
                "log_level": "loud",
                "port": "eighty",
                "resources": {"limits": {"cpu": "lots"}},
            },
        )
        assert errors == {
            "/replicas": ["Must be at most 10."],
            "/image_tag": ["Must match the pattern ^[0-9]+\\.[0-9]+\\.[0-9]+$."],
            "/log_level": ["Must be one of: debug, info, warn, error."],
            "/port": ["Must be a whole number."],
            "/resources/limits/cpu": ["Must be a valid Kubernetes quantity (e.g. 500m, 1.5, 2Gi)."],
            "/admin_password": ["This parameter is required."],
        }

    def test_unknown_parameters_are_errors(self, chat_version):
        errors = errors_of(chat_version, None, {"admin_password": "x" * 12, "replcas": 2, "resources": {"gpu": 1}})
        assert errors == {"/replcas": ["Unknown parameter."], "/resources/gpu": ["Unknown parameter."]}

    def test_locked_parameters(self, chat_version):
        small = chat_version.type.plans.get(slug="small")
        errors = errors_of(chat_version, small, {"admin_password": "x" * 12, "replicas": 3})
        assert errors == {"/replicas": ["Locked by plan Small (1); choose another plan to change it."]}
        # sending the locked value itself is fine (a form posts it back)
        assert validate_parameters(chat_version, small, {"admin_password": "x" * 12, "replicas": 1})["replicas"] == 1
        errors = errors_of(chat_version, small, {"admin_password": "x" * 12, "resources": {"limits": {"cpu": "1"}}})
        assert list(errors) == ["/resources"]
        values = validate_parameters(
            chat_version, small, {"admin_password": "x" * 12, "replicas": 3}, may_change_locked=True
        )
        assert values["replicas"] == 3

    def test_secret_values_are_never_repeated(self, chat_version):
        secret = "short-secret"[:8]
        errors = errors_of(chat_version, None, {"admin_password": secret})
        assert errors == {"/admin_password": ["Must be at least 12 characters long."]}
        assert secret not in str(errors)
        values = validate_parameters(chat_version, None, {"admin_password": "correct horse battery"})
        assert sch.mask(chat_version.parameter_schema, values)["admin_password"] == "********"

    @pytest.mark.parametrize("params", ["nope", [1, 2], 42])
    def test_not_an_object(self, chat_version, params):
        assert errors_of(chat_version, None, params) == {
            "non_field_errors": ["Parameters must be a JSON object (name: value)."]
        }

    def test_huge_parameters_are_refused(self, chat_version):
        errors = errors_of(chat_version, None, {"admin_password": "x" * 100_000})
        assert "larger than 64 KiB" in errors["non_field_errors"][0]

    def test_plan_of_another_type(self, chat_version, owner, org, team):
        other = make_chat(owner, org, team, slug="chat-two")
        errors = errors_of(chat_version, other.plans.get(slug="small"), {})
        assert list(errors) == ["plan"]

    def test_draft_04_exclusive_bounds(self, owner, org, team):
        from catalog import services

        type_ = services.create_type(actor=owner, org=org, owner_team=team, slug="old", name="Old")
        version = services.create_version(
            actor=owner,
            type_=type_,
            version="1.0.0",
            parameter_schema={
                "$schema": "http://json-schema.org/draft-04/schema#",
                "type": "object",
                "properties": {"n": {"type": "integer", "minimum": 0, "exclusiveMinimum": True, "default": 1}},
            },
        )
        assert errors_of(version, None, {"n": 0}) == {"/n": ["Must be greater than 0."]}
        assert validate_parameters(version, None, {"n": 2}) == {"n": 2}
