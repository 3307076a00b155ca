"""`sbay marketplace`, `buy`, `purchases`, `approvals list/approve/reject` and `spend` against a live server."""

from __future__ import annotations

import json

from marketplace.models import PurchaseRequest
from marketplace.tests.conftest import (  # noqa: F401 (fixtures)
    listing,
    localstripe,
    localstripe_url,
    vendor_admin,
    vendor_org,
    vendor_type,
)
from portal import services
from portal.models import Operation
from sbay.tests.test_types_cli import cli  # noqa: F401 (fixture)


def login(cli, live_server, user):  # noqa: F811
    _, key = services.create_api_token(user=user, name="cli")
    assert cli("login", "--url", live_server.url, "--token", key)[0] == 0


def test_buy_approve_reject_spend(cli, live_server, listing, org, owner, teammate):  # noqa: F811
    login(cli, live_server, teammate)
    code, out, err = cli("marketplace")
    assert code == 0, err
    assert "pgdb" in out and "large:150.00 USD" in out and "hobby:free" in out

    code, out, err = cli("buy", "pgdb", "large")
    assert code == 0, err
    assert "waits for an admin" in out
    code, out, err = cli("buy", "pgdb", "large", "-o", "json")
    second = json.loads(out)["id"]

    code, out, err = cli("approvals", "list")
    assert code == 0 and out.count("pgdb") == 2
    code, out, err = cli("approvals", "approve", second[:8])
    assert code == 3 and "admin" in err  # a developer cannot approve (403)

    login(cli, live_server, owner)
    first = PurchaseRequest.objects.exclude(pk=second).get().pk
    code, out, err = cli("approvals", "approve", str(first)[:8], "-m", "for the audits")
    assert code == 0, err
    assert "approved; payment started" in out
    assert PurchaseRequest.objects.get(pk=first).state == "approved"
    op = Operation.objects.get(kind="purchase.pay")
    from portal import operations

    operations.execute(op.pk)
    assert PurchaseRequest.objects.get(pk=first).state == "paid"

    code, out, err = cli("approvals", "reject", second[:8], "-m", "one is enough")
    assert code == 0, err
    assert PurchaseRequest.objects.get(pk=second).state == "rejected"
    code, out, err = cli("approvals", "list")
    assert "Nothing waits for approval." in out

    code, out, err = cli("spend")
    assert code == 0, err
    assert "150.00 USD/month" in out and "not charged: no payment provider" in out
    code, out, err = cli("purchases", "-o", "json")
    assert {p["state"] for p in json.loads(out)} == {"paid", "rejected"}


def test_billing_set_card_answers_with_the_operation(cli, live_server, localstripe, org, owner, teammate):  # noqa: F811
    login(cli, live_server, teammate)
    code, out, err = cli("billing", "set-card", "pm_card_visa")
    assert code == 3 and "admin" in err  # a developer cannot (403)

    login(cli, live_server, owner)
    code, out, err = cli("billing", "set-card", "nope")
    assert code == 5 and "pm_" in err
    code, out, err = cli("billing", "set-card", "pm_card_visa", "-o", "json")
    assert code == 0, err
    op = json.loads(out)
    assert op["kind"] == "billing.payment_method" and op["state"] == "pending"
    code, out, err = cli("billing", "show")
    assert "none yet" in out and "Last request: pending" in out
    from marketplace.tests.conftest import run

    assert run(Operation.objects.get(pk=op["id"])).state == "succeeded"
    code, out, err = cli("billing", "show")
    assert code == 0, err
    assert "Payment method: Visa •••• 4242" in out and "Last request" not in out
