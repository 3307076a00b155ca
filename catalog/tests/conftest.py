"""Catalog fixtures: the demo chat type, published through the services (so it is a valid type)."""

from __future__ import annotations

import pytest

from catalog import services
from catalog.demo import CHAT_BINDING, CHAT_MANIFESTS, CHAT_OUTPUTS, CHAT_PLANS, CHAT_SCHEMA
from catalog.models import ServiceType, TypeVersion


def make_chat(owner, org, team, *, slug="chat", visibility="org", publish=True, plans=True, **extra) -> ServiceType:
    type_ = services.create_type(
        actor=owner,
        org=org,
        owner_team=team,
        slug=slug,
        name=extra.pop("name", "Chat"),
        description=extra.pop("description", "The company chat server"),
        icon="chat-dots",
        tags=extra.pop("tags", ["chat", "nodejs"]),
        visibility=visibility,
        **extra,
    )
    version = services.create_version(
        actor=owner,
        type_=type_,
        version="1.0.0",
        manifests_template=CHAT_MANIFESTS,
        parameter_schema=CHAT_SCHEMA,
        outputs=CHAT_OUTPUTS,
        binding_template=CHAT_BINDING,
        changelog="First",
    )
    if plans:
        for spec in CHAT_PLANS:
            services.create_plan(actor=owner, type_=type_, **spec)
    if publish:
        services.publish_version(actor=owner, version=version)
    return type_


@pytest.fixture
def chat(owner, org, team) -> ServiceType:
    return make_chat(owner, org, team)


@pytest.fixture
def chat_version(chat) -> TypeVersion:
    version = chat.versions.get(version="1.0.0")
    version.type = chat
    return version
