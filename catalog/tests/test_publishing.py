"""Publishing: what it checks, immutability, and nothing saved half-way."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from catalog import services
from catalog.demo import CHAT_MANIFESTS, CHAT_SCHEMA
from catalog.models import Plan, ServiceType, TypeVersion
from catalog.tests.conftest import make_chat
from portal.models import AuditEvent


@pytest.fixture
def draft(owner, org, team) -> TypeVersion:
    type_ = make_chat(owner, org, team, publish=False)
    version = type_.versions.get()
    version.type = type_
    return version


def publish_errors(owner, version, **changes) -> dict:
    if changes:
        services.update_version(actor=owner, version=version, **changes)
    with pytest.raises(ValidationError) as info:
        services.publish_version(actor=owner, version=version)
    version.refresh_from_db()
    assert version.state == "draft" and version.published_at is None  # nothing saved half-way
    return info.value.message_dict


def test_publish_makes_the_version_immutable(owner, draft):
    published = services.publish_version(actor=owner, version=draft)
    assert published.state == "published" and published.published_at
    with pytest.raises(ValidationError) as info:
        services.update_version(actor=owner, version=published, changelog="sneaky")
    assert info.value.message_dict["state"][0].startswith("Version 1.0.0 is published and cannot change")
    assert "1.0.1" in info.value.message_dict["state"][0]
    with pytest.raises(ValidationError, match="already published"):
        services.publish_version(actor=owner, version=published)
    with pytest.raises(ValidationError, match="only drafts can be deleted"):
        services.delete_version(actor=owner, version=published)
    assert AuditEvent.objects.filter(action="version.publish", target_id=str(draft.pk)).count() == 1


def test_invalid_schema(owner, draft):
    errors = publish_errors(owner, draft, parameter_schema={"type": "object", "properties": {"n": {"type": "nummer"}}})
    assert list(errors) == ["parameter_schema"] and "/properties/n/type" in errors["parameter_schema"][0]


def test_template_syntax_error_names_the_line(owner, draft):
    errors = publish_errors(
        owner, draft, manifests_template=CHAT_MANIFESTS.replace("{{ parameters.replicas }}", "{{ parameters.replicas }")
    )
    assert errors == {"manifests_template": [errors["manifests_template"][0]]}
    assert "line 8" in errors["manifests_template"][0] and "syntax error" in errors["manifests_template"][0]


def test_undefined_parameter_names_render_and_line(owner, draft):
    errors = publish_errors(
        owner, draft, manifests_template=CHAT_MANIFESTS.replace("parameters.port", "parameters.prot")
    )
    assert any(m.startswith("with the defaults: line ") and "prot" in m for m in errors["manifests_template"])


def test_names_must_derive_from_the_instance_name(owner, draft):
    template = CHAT_MANIFESTS.replace('name: "{{ instance.name }}-admin"\ntype', 'name: "admin"\ntype')
    errors = publish_errors(owner, draft, manifests_template=template)
    messages = " ".join(errors["manifests_template"])
    assert "Secret admin" in messages and "does not contain the instance name" in messages
    assert "two instances would collide" in messages


def test_documents_must_be_kubernetes_objects(owner, draft):
    errors = publish_errors(
        owner, draft, manifests_template=CHAT_MANIFESTS + "---\nkind: ConfigMap\nmetadata:\n  name: x\n"
    )
    assert "document 4" in errors["manifests_template"][0] and "apiVersion missing" in errors["manifests_template"][0]
    errors = publish_errors(owner, draft, manifests_template=CHAT_MANIFESTS + "---\nfoo: [unclosed\n")
    assert "document 4" in errors["manifests_template"][0] and "invalid YAML" in errors["manifests_template"][0]


def test_template_that_escapes_the_sandbox(owner, draft):
    errors = publish_errors(owner, draft, manifests_template="{{ ''.__class__.__mro__ }}\n" + CHAT_MANIFESTS)
    assert "not allowed in a template" in errors["manifests_template"][0]
    errors = publish_errors(
        owner,
        draft,
        manifests_template="{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    )
    assert "too much work" in errors["manifests_template"][0]


def test_every_plan_is_rendered_and_checked(owner, draft):
    plan = Plan.objects.get(type=draft.type, slug="large")
    Plan.objects.filter(pk=plan.pk).update(values={"replicas": 50}, locked=["replics"])
    errors = publish_errors(owner, draft)
    assert "plan large: locks 'replics', which the schema does not declare." in errors["plans"]
    assert "plan large: /replicas: Must be at most 10." in errors["plans"]
    template = CHAT_MANIFESTS.replace(
        "replicas: {{ parameters.replicas }}",
        "replicas: {{ parameters.replicas if parameters.replicas < 3 else parameters.nope }}",
    )
    Plan.objects.filter(pk=plan.pk).update(values={"replicas": 3}, locked=[])
    errors = publish_errors(owner, draft, manifests_template=template)
    assert errors["manifests_template"][0].startswith("with plan large: line 8: undefined value")


def test_outputs_and_binding_template_are_checked(owner, draft):
    outputs = [
        {
            "name": "host",
            "from": {"kind": "Service", "name_template": "{{ instance.name }}-x", "jsonpath": ".spec.clusterIP"},
        }
    ]
    errors = publish_errors(owner, draft, outputs=outputs)
    assert "the manifests render no Service named 'check-one-x'" in errors["outputs"][0]
    errors = publish_errors(owner, draft, outputs=[], binding_template={"host": "{{ outputs.host }}"})
    assert "binding_template" in errors and "host" in errors["binding_template"][0]
    errors = publish_errors(owner, draft, binding_template={"password": {"generate": "password", "length": 4}})
    assert "length must be a whole number from 8 to 256" in errors["binding_template"][0]


def test_versions_are_semver_and_unique(owner, chat):
    with pytest.raises(ValidationError) as info:
        services.create_version(actor=owner, type_=chat, version="one")
    assert "semantic version" in info.value.message_dict["version"][0]
    with pytest.raises(ValidationError) as info:
        services.create_version(actor=owner, type_=chat, version="1.0.0")
    assert info.value.message_dict == {"version": ["chat already has a version 1.0.0."]}
    copy = services.create_version(actor=owner, type_=chat, version="v1.1.0-rc.1", copy_from=chat.versions.get())
    assert copy.version == "1.1.0-rc.1" and copy.manifests_template == CHAT_MANIFESTS and copy.state == "draft"
    services.create_version(actor=owner, type_=chat, version="1.1.0", copy_from=copy)
    assert [v.version for v in TypeVersion.objects.filter(type=chat)] == ["1.1.0", "1.1.0-rc.1", "1.0.0"]


def test_duplicate_and_reserved_slugs(owner, org, team, chat):
    for slug, message in (("chat", "already exists"), ("import", "reserved"), ("Not A Slug", "lowercase")):
        with pytest.raises(ValidationError) as info:
            services.create_type(actor=owner, org=org, owner_team=team, slug=slug, name="X")
        assert message in " ".join(info.value.message_dict["slug"])
    assert ServiceType.objects.count() == 1


def test_who_may_write(chat, chat_version, teammate, viewer, outsider, owner, team):
    # teammate: a developer in the org but not in team chat; viewer: viewer role
    for user in (teammate, viewer):
        with pytest.raises(PermissionDenied):
            services.update_type(actor=user, type_=chat, name="Hijacked")
        with pytest.raises(PermissionDenied):
            services.create_version(actor=user, type_=chat, version="9.9.9")
    with pytest.raises(Http404):
        services.update_type(actor=outsider, type_=chat, name="Hijacked")
    # a developer of the owning team may
    from portal.models import Membership

    Membership.objects.get(user=teammate).teams.add(team)
    services.update_type(actor=teammate, type_=chat, name="Chat!")
    assert ServiceType.objects.get(pk=chat.pk).name == "Chat!"


def test_sharing_is_audited(owner, chat, other_org):
    services.share_type(actor=owner, type_=chat, visibility="orgs", shared_with=[other_org])
    event = AuditEvent.objects.get(action="type.share")
    assert event.changes == {"visibility": ["org", "orgs"], "shared_with": [[], ["globex"]]}
    with pytest.raises(ValidationError, match="Name at least one other organization"):
        services.share_type(actor=owner, type_=chat, visibility="orgs", shared_with=[])
    with pytest.raises(ValidationError, match='needs visibility "orgs"'):
        services.share_type(actor=owner, type_=chat, visibility="org", shared_with=[other_org])


def test_public_needs_an_admin(chat, teammate, team):
    from portal.models import Membership

    Membership.objects.get(user=teammate).teams.add(team)
    with pytest.raises(PermissionDenied, match="admin role"):
        services.share_type(actor=teammate, type_=chat, visibility="public")


def test_plans_are_checked_against_the_schema(owner, chat):
    with pytest.raises(ValidationError) as info:
        services.create_plan(actor=owner, type_=chat, slug="huge", name="Huge", values={"replicas": 99})
    assert info.value.message_dict == {"values": ["/replicas: Must be at most 10."]}
    with pytest.raises(ValidationError, match="has no parameter gpus"):
        services.create_plan(actor=owner, type_=chat, slug="huge", name="Huge", values={"gpus": 1})
    with pytest.raises(ValidationError, match="no parameter gpus to lock"):
        services.create_plan(actor=owner, type_=chat, slug="huge", name="Huge", locked=["gpus"])
    with pytest.raises(ValidationError, match="already has a plan 'small'"):
        services.create_plan(actor=owner, type_=chat, slug="small", name="Small again")
    plan = services.create_plan(
        actor=owner, type_=chat, slug="medium", name="Medium", values={"replicas": 2}, locked=["resources.limits.cpu"]
    )
    assert plan.locked == ["resources.limits.cpu"]


def test_schema_default_of_a_secret_is_refused(owner, draft):
    schema = {
        **CHAT_SCHEMA,
        "properties": {
            **CHAT_SCHEMA["properties"],
            "admin_password": {"type": "string", "writeOnly": True, "default": "hunter2hunter2"},
        },
    }
    errors = publish_errors(owner, draft, parameter_schema=schema)
    assert "cannot have a default" in errors["parameter_schema"][0]
