"""One entitlement, two deploys at the same moment: exactly one instance (the entitlement rows are locked)."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from instances import services as instance_services
from instances.models import Instance
from marketplace import services
from portal.models import Operation

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_deploys_share_no_entitlement(listing, org, teammate, cluster):
    org.monthly_spend_limit = 1000
    org.save()
    purchase, op = services.request_purchase(actor=teammate, org=org, listing=listing, plan_slug="large")
    from marketplace.tests.conftest import run

    assert run(op).state == Operation.State.SUCCEEDED  # no payment provider: paid at once, one entitlement
    large = listing.service_type.plans.get(slug="large")
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def deploy(name: str) -> None:
        try:
            barrier.wait()
            instance_services.provision_instance(
                actor=teammate, org=org, service_type=listing.service_type, name=name, plan=large, cluster=cluster
            )
            outcomes.append("created")
        except ValidationError as exc:
            assert "no unused purchase" in str(exc.message_dict["plan"])
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=deploy, args=(f"db{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["created", "refused", "refused", "refused"]
    assert Instance.objects.filter(org=org, plan=large).count() == 1


def test_an_unlisted_plan_is_no_longer_sold_but_purchases_keep_working(listing, vendor_admin, org, teammate, cluster):
    org.monthly_spend_limit = 1000
    org.save()
    _purchase, op = services.request_purchase(actor=teammate, org=org, listing=listing, plan_slug="large")
    from marketplace.tests.conftest import run

    assert run(op).state == Operation.State.SUCCEEDED
    services.unlist_listing(actor=vendor_admin, listing=listing)
    large = listing.service_type.plans.get(slug="large")
    instance, _ = instance_services.provision_instance(
        actor=teammate, org=org, service_type=listing.service_type, name="bought", plan=large, cluster=cluster
    )
    with pytest.raises(ValidationError) as refused:
        instance_services.provision_instance(
            actor=teammate, org=org, service_type=listing.service_type, name="more", plan=large, cluster=cluster
        )
    assert "no longer sold" in refused.value.message_dict["plan"][0]
    assert Instance.objects.filter(org=org, plan=large).count() == 1
