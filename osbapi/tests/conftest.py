"""An OSB-enabled template type (the chat type of instances/tests), a platform credential, a cluster on
the real local API server, and an ``osb`` caller that speaks the OSB API through Django's test client."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest
from django.test import Client

from catalog.models import Plan, ServiceType, TypeVersion
from instances.models import Cluster
from instances.tests.conftest import BINDING, MANIFESTS, OUTPUTS, SCHEMA
from osbapi import selectors, services
from portal import operations
from portal.models import Operation


@pytest.fixture
def osb_type(org, team, owner) -> ServiceType:
    service_type = ServiceType.objects.create(
        org=org, owner_team=team, slug="chat", name="Chat", visibility="org", osb_enabled=True, tags=["chat"]
    )
    TypeVersion.objects.create(
        type=service_type,
        version="1.0.0",
        state="published",
        manifests_template=MANIFESTS,
        parameter_schema=SCHEMA,
        outputs=OUTPUTS,
        binding_template=BINDING,
        changelog="First release",
    )
    for order, (slug, replicas, cpu) in enumerate([("small", 1, "100m"), ("large", 2, "200m")]):
        Plan.objects.create(
            type=service_type,
            slug=slug,
            name=slug.title(),
            values={"replicas": replicas, "cpu": cpu},
            locked=["replicas", "cpu"],
            order=order,
        )
    return service_type


@pytest.fixture
def kubeconfig(kube_cluster) -> str:
    return Path(kube_cluster).read_text()


@pytest.fixture
def cluster(org, kubeconfig, kube_namespace) -> Cluster:
    return Cluster.objects.create(
        org=org, name="local", kubeconfig=kubeconfig, default_namespace=kube_namespace, reachable=True
    )


@pytest.fixture
def platform(owner, org):
    credential, secret = services.create_platform_credential(actor=owner, org=org, name="cf-prod")
    credential.secret = secret
    return credential


def run(op_id) -> Operation:
    operations.execute(op_id)
    return Operation.objects.get(pk=op_id)


class OSB:
    """OSB requests as a platform sends them (basic auth, X-Broker-API-Version 2.17)."""

    def __init__(self, platform, service_type):
        self.client = Client()
        self.username, self.secret = platform.username, platform.secret
        self.type = service_type
        self.version = "2.17"

    @property
    def service_id(self) -> str:
        return selectors.offering_id(self.type)

    def plan_id(self, slug: str = "small") -> str:
        return selectors.plan_id(self.type, self.type.plans.get(slug=slug))

    def headers(self, *, auth=None, version: str | None = "default", **extra) -> dict:
        user, secret = auth or (self.username, self.secret)
        headers = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}
        if auth is False:
            headers = {}
        version = self.version if version == "default" else version
        if version is not None:
            headers["HTTP_X_BROKER_API_VERSION"] = version
        headers.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in extra.items()})
        return headers

    def request(self, method: str, path: str, body=None, query: dict | None = None, raw: bytes | None = None, **kw):
        from urllib.parse import urlencode

        url = "/osb/v2/" + path + ("?" + urlencode(query) if query else "")
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return self.client.generic(method, url, data=data, content_type="application/json", **self.headers(**kw))

    # shorthands -------------------------------------------------------------------------------
    def provision(self, iid: str, plan="small", parameters=None, accepts=True, headers=None, **extra):
        body = {"service_id": self.service_id, "plan_id": self.plan_id(plan), "context": {"platform": "cloudfoundry"}}
        body.update({"organization_guid": "org-1", "space_guid": "space-1"})
        if parameters is not None:
            body["parameters"] = parameters
        body.update(extra)
        query = {"accepts_incomplete": "true"} if accepts else None
        return self.request("PUT", f"service_instances/{iid}", body, query, **(headers or {}))

    def ids(self, plan="small") -> dict:
        return {"service_id": self.service_id, "plan_id": self.plan_id(plan)}

    def bind(self, iid: str, bid: str, accepts=False, plan="small", **extra):
        body = {**self.ids(plan), "bind_resource": {"app_guid": "app-1"}, **extra}
        return self.request(
            "PUT",
            f"service_instances/{iid}/service_bindings/{bid}",
            body,
            {"accepts_incomplete": "true"} if accepts else None,
        )


@pytest.fixture
def osb(platform, osb_type) -> OSB:
    return OSB(platform, osb_type)


def new_id() -> str:
    return str(uuid.uuid4())


def for_type(osb: OSB, service_type: ServiceType) -> OSB:
    """The same platform speaking about another type."""
    other = OSB.__new__(OSB)
    other.__dict__.update(osb.__dict__, type=service_type)
    return other


# --- a type another org sells on the marketplace (paid plans small and large, free plan hobby) ----------

PRICES = {"small": "20.00", "large": "150.00", "hobby": "0"}


def sell_type(vendor_slug: str = "initech", publish: bool = True):
    """An OSB-enabled template type of another org, listed on the marketplace without a payment provider
    (publishing makes it public, so every platform sees it). Returns the listing."""
    from conftest import make_user
    from marketplace import services as marketplace
    from portal.models import Membership, Organization, Role, Team

    vendor = Organization.objects.create(slug=vendor_slug, name=f"{vendor_slug.title()} Databases")
    admin = make_user(f"{vendor_slug}-admin")
    Membership.objects.create(org=vendor, user=admin, role=Role.ADMIN)
    team = Team.objects.create(org=vendor, slug="data", name="Data Services")
    service_type = ServiceType.objects.create(
        org=vendor, owner_team=team, slug=f"{vendor_slug}-pg", name="Managed Postgres", osb_enabled=True
    )
    TypeVersion.objects.create(
        type=service_type,
        version="1.0.0",
        state="published",
        manifests_template=MANIFESTS,
        parameter_schema=SCHEMA,
        outputs=OUTPUTS,
        binding_template=BINDING,
    )
    for order, (slug, replicas) in enumerate([("small", 1), ("large", 2), ("hobby", 1)]):
        Plan.objects.create(
            type=service_type,
            slug=slug,
            name=slug.title(),
            values={"replicas": replicas},
            locked=["replicas"],
            order=order,
        )
    listing = marketplace.create_listing(
        actor=admin, org=vendor, service_type=service_type, summary="PostgreSQL", prices=PRICES
    )
    if publish:
        op = marketplace.publish_listing(actor=admin, listing=listing)
        assert run(op.pk).state == Operation.State.SUCCEEDED
        listing.refresh_from_db()
    listing.admin = admin
    return listing


def buy(org, listing, plan_slug: str):
    """An active entitlement of ``org`` to one instance of the plan: bought within the org's self-approval
    limit and paid at once (no payment provider configured: ``marketplace.handlers.pay_purchase``)."""
    from marketplace import services as marketplace
    from marketplace.models import Entitlement
    from portal.models import Membership, Role

    org.monthly_spend_limit = 1000
    org.save(update_fields=["monthly_spend_limit"])
    buyer = Membership.objects.filter(org=org, role__in=[Role.ADMIN, Role.DEVELOPER]).order_by("role").first().user
    purchase, op = marketplace.request_purchase(actor=buyer, org=org, listing=listing, plan_slug=plan_slug)
    assert op is not None and run(op.pk).state == Operation.State.SUCCEEDED
    return Entitlement.objects.get(purchase=purchase, state=Entitlement.State.ACTIVE)
