"""Plan changes of paid marketplace plans over OSB: no plan without its purchase, whatever the request says.

Found in review: a PATCH carrying the newest ``maintenance_info`` skipped the purchase check, and a
downgrade left the cheaper plan unpaid while freeing the pricier purchase for another instance.
"""

from __future__ import annotations

import pytest

from catalog.models import TypeVersion
from instances.models import Instance
from marketplace.models import Entitlement, PurchaseRequest
from osbapi.tests.conftest import buy, for_type, new_id, run, sell_type

pytestmark = pytest.mark.django_db


def _ready(paid, plan: str) -> str:
    iid = new_id()
    response = paid.provision(iid, plan=plan)
    assert response.status_code == 202, response.content
    assert run(response.json()["operation"]).state == "succeeded"
    return iid


def _patch(paid, iid: str, **body):
    body = {"service_id": paid.service_id, **body}
    return paid.request("PATCH", f"service_instances/{iid}", body, {"accepts_incomplete": "true"})


def test_a_version_upgrade_does_not_smuggle_a_paid_plan(osb, org, cluster):
    listing = sell_type()
    paid = for_type(osb, listing.service_type)
    buy(org, listing, "small")
    iid = _ready(paid, "small")
    v1 = listing.service_type.versions.get()
    TypeVersion.objects.create(
        type=listing.service_type,
        version="1.1.0",
        state="published",
        manifests_template=v1.manifests_template,
        parameter_schema=v1.parameter_schema,
        outputs=v1.outputs,
        binding_template=v1.binding_template,
    )
    purchases = PurchaseRequest.objects.count()
    for extra in ({}, {"maintenance_info": {"version": "1.1.0"}}):
        response = _patch(paid, iid, plan_id=paid.plan_id("large"), **extra)
        assert response.status_code == 422, (extra, response.content)
        assert Instance.objects.get(osb_instance_id=iid).plan.slug == "small"
    assert PurchaseRequest.objects.count() == purchases  # refused over OSB and rolled back


def test_a_downgrade_needs_a_purchase_of_the_cheaper_plan(osb, org, cluster):
    listing = sell_type()
    paid = for_type(osb, listing.service_type)
    buy(org, listing, "large")
    iid = _ready(paid, "large")
    response = _patch(paid, iid, plan_id=paid.plan_id("small"))
    assert response.status_code == 422 and "no unused purchase" in response.json()["description"]
    assert Instance.objects.get(osb_instance_id=iid).plan.slug == "large"
    assert paid.provision(new_id(), plan="large").status_code == 422  # the large purchase is still in use
    buy(org, listing, "small")
    response = _patch(paid, iid, plan_id=paid.plan_id("small"))
    assert response.status_code == 202 and run(response.json()["operation"]).state == "succeeded"
    live = sorted(Instance.objects.filter(org=org).exclude(state="deprovisioned").values_list("plan__slug", flat=True))
    active = sorted(Entitlement.objects.filter(org=org, state="active").values_list("price__plan__slug", flat=True))
    assert live == ["small"] and active == ["large", "small"]  # the large purchase is free for another instance
