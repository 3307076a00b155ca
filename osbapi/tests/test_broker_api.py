"""The catalog, platform credentials, scoping between platforms, audit, and maintenance upgrades."""

from __future__ import annotations

import base64
import json

import pytest
from django.contrib.auth.hashers import check_password

from catalog.models import ServiceType, TypeVersion
from instances.models import Binding, Instance
from osb.models import Catalog
from osbapi import services
from osbapi.models import PlatformCredential
from osbapi.tests.conftest import OSB, new_id, run, sell_type
from portal.models import AuditEvent, Membership, Organization


def test_catalog_lists_osb_enabled_types_with_schemas_and_maintenance_info(osb, osb_type, org, team):
    ServiceType.objects.create(org=org, owner_team=team, slug="hidden", name="Not offered", visibility="org")
    response = osb.request("GET", "catalog")
    assert response.status_code == 200
    catalog = Catalog.from_json(response.json())  # the OSB library's own validation of every field
    assert [s.name for s in catalog.services] == ["chat"]
    chat = catalog.services[0]
    assert chat.id == osb.service_id and chat.bindable and chat.plan_updateable
    assert chat.instances_retrievable and chat.bindings_retrievable
    assert [p.name for p in chat.plans] == ["small", "large"]
    small = chat.plan_named("small")
    assert small.id == osb.plan_id("small") and small.maintenance_info.version == "1.0.0"
    schema = small.schemas.service_instance_create
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "replicas" not in schema["properties"], "a plan's locked parameters are not offered"
    assert schema["properties"]["port"]["maximum"] == 65535
    assert small.schemas.service_instance_update == schema


def test_catalog_etag_and_304(osb, osb_type, owner):
    first = osb.request("GET", "catalog")
    etag = first["ETag"]
    again = osb.request("GET", "catalog", **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    # a new version changes the catalog: the old ETag no longer matches
    TypeVersion.objects.create(type=osb_type, version="1.1.0", state="published", parameter_schema={"type": "object"})
    changed = osb.request("GET", "catalog", **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert changed.json()["services"][0]["plans"][0]["maintenance_info"]["version"] == "1.1.0"


def test_catalog_only_shows_types_the_platforms_org_may_deploy(osb_type, owner, outsider, other_org):
    from catalog.services import share_type

    credential, secret = services.create_platform_credential(actor=outsider, org=other_org, name="cf")
    credential.secret = secret
    response = OSB(credential, osb_type).request("GET", "catalog")
    assert response.json() == {"services": []}
    share_type(actor=owner, type_=osb_type, visibility="orgs", shared_with=[other_org])
    assert len(OSB(credential, osb_type).request("GET", "catalog").json()["services"]) == 1


def test_platform_credential_secret_is_hashed_shown_once_and_revocable(owner, org, osb, platform):
    row = PlatformCredential.objects.get(pk=platform.pk)
    assert platform.secret not in row.secret_hash and check_password(platform.secret, row.secret_hash)
    assert not row.principal.has_usable_password()
    assert Membership.objects.get(user=row.principal).org == org
    event = AuditEvent.objects.get(action="platform.create")
    assert platform.secret not in json.dumps(event.changes)
    assert osb.request("GET", "catalog").status_code == 200
    services.revoke_platform_credential(actor=owner, credential=row)
    assert osb.request("GET", "catalog").status_code == 401


def test_only_admins_create_platforms(teammate, org):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.create_platform_credential(actor=teammate, org=org, name="cf")


def test_instances_belong_to_the_platform_and_its_org_and_record_the_originating_identity(osb, platform, org, cluster):
    iid = new_id()
    who = base64.b64encode(json.dumps({"user_id": "683ea748"}).encode()).decode()
    response = osb.provision(
        iid,
        context={"platform": "cloudfoundry", "space_guid": "space-1", "instance_name": "chat-for-cc"},
        headers={"X-Broker-API-Originating-Identity": f"cloudfoundry {who}", "X-Broker-API-Request-Identity": "r-1"},
    )
    assert response.status_code == 202, response.content
    instance = Instance.objects.get(osb_instance_id=iid)
    assert instance.platform == platform and instance.org == org and instance.cluster == cluster
    assert instance.osb_context["space_guid"] == "space-1" and instance.created_by == platform.principal
    event = AuditEvent.objects.get(action="osb.provision")
    assert event.via == "osb" and event.actor_repr == "platform cf-prod"
    assert event.changes["originating_identity"] == {"platform": "cloudfoundry", "value": {"user_id": "683ea748"}}
    assert event.changes["request_identity"] == "r-1"
    assert AuditEvent.objects.get(action="instance.provision").via == "osb"


def test_another_platform_sees_nothing_of_this_platforms_instances_and_bindings(osb, osb_type, owner, org, cluster):
    iid, bid = new_id(), new_id()
    assert run(osb.provision(iid).json()["operation"]).state == "succeeded"
    credentials = osb.bind(iid, bid).json()["credentials"]
    other, secret = services.create_platform_credential(actor=owner, org=org, name="other")
    other.secret = secret
    thief = OSB(other, osb_type)
    assert thief.request("GET", f"service_instances/{iid}").status_code == 404
    assert thief.request("GET", f"service_instances/{iid}/service_bindings/{bid}").status_code == 404
    assert (
        thief.request(
            "DELETE", f"service_instances/{iid}", query={**thief.ids(), "accepts_incomplete": "true"}
        ).status_code
        == 410
    )
    # the credentials are stored encrypted and never shown in Servicebay: only the platform gets them
    binding = Binding.objects.get(osb_binding_id=bid)
    assert binding.app_kind == "" and binding.platform_id == osb_type.instances.get().platform_id
    from django.db import connection

    from portal.crypto import EncryptedTextField  # noqa: F401 (the field type of Binding.credentials)

    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM instances_binding WHERE id = %s", [binding.pk])
        raw = cursor.fetchone()[0]
    assert credentials["password"] not in raw
    from django.core.exceptions import PermissionDenied

    from instances.services import reveal_credentials

    with pytest.raises(PermissionDenied):
        reveal_credentials(actor=owner, binding=binding)


def test_maintenance_info_upgrade_moves_the_instance_to_the_new_version(osb, osb_type, cluster):
    iid = new_id()
    assert run(osb.provision(iid).json()["operation"]).state == "succeeded"
    v1 = TypeVersion.objects.get(type=osb_type, version="1.0.0")
    TypeVersion.objects.create(
        type=osb_type,
        version="1.1.0",
        state="published",
        manifests_template=v1.manifests_template,
        parameter_schema=v1.parameter_schema,
        outputs=v1.outputs,
        binding_template=v1.binding_template,
    )
    stale = osb.request(
        "PATCH",
        f"service_instances/{iid}",
        {**osb.ids(), "maintenance_info": {"version": "1.0.0"}},
        {"accepts_incomplete": "true"},
    )
    assert stale.status_code == 422 and stale.json()["error"] == "MaintenanceInfoConflict"
    response = osb.request(
        "PATCH",
        f"service_instances/{iid}",
        {**osb.ids(), "maintenance_info": {"version": "1.1.0"}},
        {"accepts_incomplete": "true"},
    )
    assert response.status_code == 202, response.content
    assert run(response.json()["operation"]).state == "succeeded"
    fetched = osb.request("GET", f"service_instances/{iid}").json()
    assert fetched["maintenance_info"] == {"version": "1.1.0"}
    assert Instance.objects.get(osb_instance_id=iid).version.version == "1.1.0"


@pytest.mark.parametrize("types", [1, 6])
def test_catalog_and_provision_query_counts(osb, osb_type, org, team, cluster, types, django_assert_max_num_queries):
    for i in range(1, types):
        extra = ServiceType.objects.create(
            org=org, owner_team=team, slug=f"chat-{i}", name=f"Chat {i}", osb_enabled=True
        )
        TypeVersion.objects.create(type=extra, version="1.0.0", state="published", parameter_schema={"type": "object"})
    with django_assert_max_num_queries(12):  # built: types, versions, plans, auth
        assert len(osb.request("GET", "catalog").json()["services"]) == types
    with django_assert_max_num_queries(3):  # unchanged: the platform and one stamp query
        osb.request("GET", "catalog")
    with django_assert_max_num_queries(40):
        assert osb.provision(new_id()).status_code == 202


def test_catalog_cache_follows_sharing_even_when_the_type_row_does_not_change(
    osb, osb_type, owner, outsider, other_org
):
    """The per-process catalog cache is keyed on what *this* platform may see: taking a type away from an org
    (share_type changes only the shared_with rows, not the type's updated_at) is seen at once, and another
    org's platform never gets this org's cached catalog."""
    from catalog.services import share_type

    credential, secret = services.create_platform_credential(actor=outsider, org=other_org, name="cf")
    credential.secret = secret
    theirs = OSB(credential, osb_type)
    share_type(actor=owner, type_=osb_type, visibility="orgs", shared_with=[other_org])
    assert len(theirs.request("GET", "catalog").json()["services"]) == 1
    assert len(osb.request("GET", "catalog").json()["services"]) == 1
    third = Organization.objects.create(slug="third", name="Third")
    share_type(actor=owner, type_=osb_type, visibility="orgs", shared_with=[third])  # updated_at stays
    assert theirs.request("GET", "catalog").json() == {"services": []}
    assert theirs.request("PUT", "service_instances/x", osb.ids(), {"accepts_incomplete": "true"}).status_code == 400
    assert len(osb.request("GET", "catalog").json()["services"]) == 1


# --- the marketplace: a plan's ``free`` ---------------------------------------------------------------


def _free(osb: OSB, listing) -> dict[str, bool]:
    (sold,) = [s for s in osb.request("GET", "catalog").json()["services"] if s["name"] == listing.service_type.slug]
    return {p["name"]: p["free"] for p in sold["plans"]}


def test_catalog_free_follows_prices_and_listing_state(osb, osb_type):
    """The per-process catalog cache and the ETag follow what decides ``free`` (the listing's state and its
    prices), although neither the type's row nor its plans change."""
    from marketplace.models import ListingPrice
    from marketplace.services import publish_listing, unlist_listing

    listing = sell_type()
    first = osb.request("GET", "catalog")
    etag = first["ETag"]
    assert _free(osb, listing) == {"small": False, "large": False, "hobby": True}
    assert osb.request("GET", "catalog", **{"If-None-Match": etag}).status_code == 304

    # a price changed to 0 (prices have no updated_at; ServiceType.updated_at stays)
    updated_at = listing.service_type.updated_at
    ListingPrice.objects.filter(listing=listing, plan__slug="small").update(monthly_amount=0)
    changed = osb.request("GET", "catalog", **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert _free(osb, listing) == {"small": True, "large": False, "hobby": True}
    listing.service_type.refresh_from_db()
    assert listing.service_type.updated_at == updated_at

    # and back from 0, to another plan at the same time (the number of paid plans stays)
    prices = ListingPrice.objects.filter(listing=listing)
    prices.filter(plan__slug="small").update(monthly_amount=5)
    prices.filter(plan__slug="large").update(monthly_amount=0)
    assert _free(osb, listing) == {"small": False, "large": True, "hobby": True}
    etag = osb.request("GET", "catalog")["ETag"]

    unlist_listing(actor=listing.admin, listing=listing)
    unlisted = osb.request("GET", "catalog", **{"If-None-Match": etag})
    assert unlisted.status_code == 200 and unlisted["ETag"] != etag
    assert _free(osb, listing) == {"small": True, "large": True, "hobby": True}

    run(publish_listing(actor=listing.admin, listing=listing).pk)
    assert _free(osb, listing) == {"small": False, "large": True, "hobby": True}


def test_catalog_plans_of_the_vendors_own_listing_are_free_for_its_platforms(osb, osb_type):
    """marketplace.entitlements: "A vendor's own org [...] need[s] none" — its instances cost it nothing."""
    listing = sell_type()
    credential, secret = services.create_platform_credential(actor=listing.admin, org=listing.vendor, name="cf")
    credential.secret = secret
    vendors = OSB(credential, listing.service_type)
    assert _free(vendors, listing) == {"small": True, "large": True, "hobby": True}
    assert _free(osb, listing) == {"small": False, "large": False, "hobby": True}


@pytest.mark.parametrize("listings", [1, 4])
def test_catalog_query_counts_with_paid_listings(osb, osb_type, listings, django_assert_max_num_queries):
    """The same pins as test_catalog_and_provision_query_counts: ``free`` costs no query of its own."""
    for i in range(listings):
        sell_type(f"vendor{i}")
    with django_assert_max_num_queries(12):  # built: types, versions, plans (with free), auth
        body = osb.request("GET", "catalog").json()
    assert len(body["services"]) == listings + 1
    assert sum(not p["free"] for s in body["services"] for p in s["plans"]) == 2 * listings
    with django_assert_max_num_queries(3):  # unchanged: the platform and one stamp query
        osb.request("GET", "catalog")
