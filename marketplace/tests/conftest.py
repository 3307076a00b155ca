"""Real Stripe peers for the marketplace tests: localstripe (stateful, signed webhooks) and
stripe-mock (Stripe's official mock, for the shape of calls localstripe lacks, e.g. /v1/prices).

Both run as subprocesses on free loopback ports. stripe-mock is built once through the Go module
proxy by scripts/stripe-mock.sh (cached like the Kubernetes binaries); there is no skip.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from catalog.models import Plan, ServiceType, TypeVersion
from instances.tests.conftest import MANIFESTS, OUTPUTS, SCHEMA, cluster, kubeconfig  # noqa: F401 (fixtures)
from marketplace import services
from marketplace.models import Listing, PurchaseRequest
from portal import operations
from portal.models import Membership, Operation, Organization, Role, Team

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "whsec_servicebay_tests"  # noqa: S105 (a test-only signing secret)
API_KEY = "sk_test_servicebay"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, log: Path, headers=None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            httpx.get(url, headers=headers or {}, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in 30s: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def localstripe_url(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "marketplace.tests.localstripe_server", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    _wait_for(f"{url}/v1/customers", proc, log, {"Authorization": f"Bearer {API_KEY}"})
    yield url
    _stop(proc)


@pytest.fixture(scope="session")
def stripe_mock_url(tmp_path_factory):
    built = subprocess.run(
        ["bash", str(ROOT / "scripts" / "stripe-mock.sh"), "path"], capture_output=True, text=True, check=False
    )
    if built.returncode != 0:
        pytest.fail(f"stripe-mock could not be built (scripts/stripe-mock.sh): {built.stderr[-2000:]}")
    binary = built.stdout.strip().splitlines()[-1]
    port = free_port()
    log = tmp_path_factory.mktemp("stripe-mock") / "stripe-mock.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([binary, "-http-addr", f"127.0.0.1:{port}"], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    _wait_for(f"{url}/v1/customers", proc, log, {"Authorization": f"Bearer {API_KEY}"})
    yield url
    _stop(proc)


@pytest.fixture
def localstripe(localstripe_url, settings, live_server):
    """Stripe settings pointing at localstripe, its store emptied, its webhook aimed at this test's server."""
    settings.STRIPE_API_KEY = API_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_USE_LEGACY_PLANS = True  # localstripe has plans, not prices
    httpx.delete(f"{localstripe_url}/_config/data", timeout=5).raise_for_status()
    httpx.post(
        f"{localstripe_url}/_config/webhooks/servicebay",
        data={"url": f"{live_server.url}/marketplace/webhooks/stripe/", "secret": WEBHOOK_SECRET},
        timeout=5,
    ).raise_for_status()
    return localstripe_url


def run(op) -> Operation:
    """Run an operation in this process, as a worker would."""
    operations.execute(op.pk if hasattr(op, "pk") else op)
    return Operation.objects.get(pk=op.pk if hasattr(op, "pk") else op)


def wait_for_state(purchase: PurchaseRequest, state: str, timeout: float = 15) -> PurchaseRequest:
    """Wait for localstripe's webhook (sent about 1 s after the event) to move the purchase."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        purchase.refresh_from_db()
        if purchase.state == state:
            return purchase
        time.sleep(0.2)
    raise AssertionError(f"purchase stayed {purchase.state} (wanted {state}): {purchase.payment_message}")


def wait_for_event(kind: str, timeout: float = 15):
    """Wait for localstripe's signed webhook of ``kind`` to be received and processed (one only)."""
    from marketplace.models import StripeEvent

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = list(StripeEvent.objects.filter(type=kind).exclude(outcome=""))
        if events:
            assert len(events) == 1, events
            return events[0]
        time.sleep(0.2)
    raise AssertionError(f"no {kind} webhook within {timeout:.0f}s")


# --- a vendor (Globex) selling a type with plans small (20/month) and large (150/month) ------


@pytest.fixture
def vendor_org(db) -> Organization:
    return Organization.objects.create(slug="initech", name="Initech Databases")


@pytest.fixture
def vendor_admin(vendor_org):
    from conftest import make_user

    user = make_user("vendor")
    Membership.objects.create(org=vendor_org, user=user, role=Role.ADMIN)
    return user


@pytest.fixture
def vendor_type(vendor_org, vendor_admin) -> ServiceType:
    team = Team.objects.create(org=vendor_org, slug="data", name="Data Services")
    service_type = ServiceType.objects.create(
        org=vendor_org, owner_team=team, slug="pgdb", name="Managed Postgres", visibility="org", icon="database"
    )
    TypeVersion.objects.create(
        type=service_type,
        version="1.0.0",
        state="published",
        manifests_template=MANIFESTS,
        parameter_schema=SCHEMA,
        outputs=OUTPUTS,
    )
    for order, (slug, replicas) in enumerate([("small", 1), ("large", 3), ("hobby", 1)]):
        Plan.objects.create(
            type=service_type,
            slug=slug,
            name=slug.title(),
            values={"replicas": replicas},
            locked=["replicas"],
            order=order,
        )
    return service_type


PRICES = {"small": Decimal("20.00"), "large": Decimal("150.00"), "hobby": Decimal("0")}


def make_listing(vendor_admin, vendor_type, publish: bool = True) -> Listing:
    listing = services.create_listing(
        actor=vendor_admin,
        org=vendor_type.org,
        service_type=vendor_type,
        summary="PostgreSQL run by Globex's DBAs",
        description="# Managed Postgres\n\nBackups, **failover** and sharding.\n\n<script>alert(1)</script>",
        categories="database, postgresql",
        documentation_url="https://docs.globex.example/pg",
        terms="Monthly, cancel any time.",
        prices=PRICES,
    )
    if publish:
        op = services.publish_listing(actor=vendor_admin, listing=listing)
        assert run(op).state == Operation.State.SUCCEEDED, op.steps.all()
        listing.refresh_from_db()
    return listing


@pytest.fixture
def listing(vendor_admin, vendor_type) -> Listing:
    """Published without a payment provider (the embedded default)."""
    return make_listing(vendor_admin, vendor_type)


@pytest.fixture
def stripe_listing(localstripe, vendor_admin, vendor_type) -> Listing:
    """Published at localstripe: a product and a (legacy) plan per paid plan."""
    return make_listing(vendor_admin, vendor_type)


def stripe_get(base: str, path: str) -> dict:
    response = httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5)
    response.raise_for_status()
    return response.json()


def stripe_post(base: str, path: str, data: dict) -> dict:
    response = httpx.post(f"{base}{path}", data=data, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5)
    response.raise_for_status()
    return response.json()
