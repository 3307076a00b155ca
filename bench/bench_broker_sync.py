"""Broker catalog sync benchmark: 500 offerings × 5 plans, from a real HTTP broker on 127.0.0.1.

The broker (``osb/tests/fault_broker.py``'s ``http.server``, in a thread) serves a catalog whose plans carry
create/update parameter schemas and ``maintenance_info``. Measured through ``catalog.brokers.sync_broker``
(the function the ``broker.sync`` operation runs): wall time, queries and write queries
(INSERT/UPDATE/DELETE) of

* the first sync (everything created),
* an unchanged resync without an ETag (the full catalog fetched and compared row by row),
* an unchanged resync with an ETag (the broker answers 304),
* a resync after the vendor bumped one plan's ``maintenance_info`` (exactly one row written),

and the ratio of each against the first sync. Targets: the unchanged resync under 2 s and zero writes.

    env $(make -s print-test-env) .venv/bin/python bench/bench_broker_sync.py [--offerings 500] [--plans 5]

It creates (and drops) its own database ``bench_broker_sync_<pid>`` next to the configured one.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import warnings  # noqa: E402

import django  # noqa: E402

warnings.filterwarnings("ignore", message="No directory at")

django.setup()

from django.apps import apps  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from osb.tests.fault_broker import FaultBroker  # noqa: E402

WRITES = ("INSERT", "UPDATE", "DELETE")


def schema(n: int) -> dict:
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {
            "size_gb": {"type": "integer", "minimum": 1, "maximum": 100 + n, "default": 10},
            "region": {"type": "string", "enum": ["eu", "us", "ap"], "default": "eu"},
            "backups": {"type": "boolean", "default": True},
        },
        "required": ["region"],
    }


def catalog(offerings: int, plans: int) -> dict:
    return {
        "services": [
            {
                "id": f"svc-{o:04d}",
                "name": f"offering-{o:04d}",
                "description": f"Managed thing number {o}",
                "bindable": True,
                "tags": ["bench", f"t{o % 10}"],
                "metadata": {"displayName": f"Offering {o}"},
                "plans": [
                    {
                        "id": f"svc-{o:04d}-plan-{p}",
                        "name": f"plan-{p}",
                        "description": f"Plan {p} of offering {o}",
                        "maintenance_info": {"version": "1.0.0", "description": "initial"},
                        "schemas": {
                            "service_instance": {
                                "create": {"parameters": schema(o)},
                                "update": {"parameters": schema(o)},
                            }
                        },
                    }
                    for p in range(plans)
                ],
            }
            for o in range(offerings)
        ]
    }


def measure(label: str, broker) -> tuple[float, int, int, dict]:
    from catalog.brokers import sync_broker
    from catalog.models import Broker

    broker = Broker.objects.select_related("owner_team", "created_by").get(pk=broker.pk)
    with CaptureQueriesContext(connection) as ctx:
        started = time.perf_counter()
        counts = sync_broker(broker)
        seconds = time.perf_counter() - started
    writes = sum(1 for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith(WRITES))
    print(f"{label:<38} {seconds:>8.3f} s {len(ctx.captured_queries):>8} {writes:>8}   {counts}")
    return seconds, len(ctx.captured_queries), writes, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offerings", type=int, default=500)
    parser.add_argument("--plans", type=int, default=5)
    args = parser.parse_args()

    setup_test_environment()
    settings.DEBUG = False
    # Tables straight from the models (like pytest --no-migrations): the bench measures sync, not migrations.
    settings.MIGRATION_MODULES = {config.label: None for config in apps.get_app_configs()}
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = (
        f"bench_broker_sync_{os.getpid()}" if connection.vendor != "sqlite" else ""
    )
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    fault = FaultBroker().start()
    try:
        from django.contrib.auth import get_user_model

        from catalog.models import Broker, Plan, ServiceType
        from portal.models import Organization, Team

        body = catalog(args.offerings, args.plans)
        payload = json.dumps(body).encode()
        fault.reply("GET", "/v2/catalog", 200, payload)
        user = get_user_model().objects.create(username="bench")
        org = Organization.objects.create(slug="bench", name="Bench Corp")
        team = Team.objects.create(org=org, slug="ops", name="Ops")
        broker = Broker.objects.create(
            org=org,
            owner_team=team,
            name="bench",
            url=fault.url,
            username="u",
            secret="p",  # noqa: S106
            created_by=user,
        )
        print(
            f"Broker catalog sync on {connection.vendor}: {args.offerings} offerings × {args.plans} plans "
            f"({len(payload) / 1e6:.1f} MB of catalog JSON over loopback HTTP)\n"
        )
        print(f"{'sync':<38} {'wall':>10} {'queries':>8} {'writes':>8}   result")
        first = measure("first sync", broker)
        assert ServiceType.objects.filter(broker=broker).count() == args.offerings
        assert Plan.objects.filter(type__broker=broker).count() == args.offerings * args.plans
        resync = measure("unchanged resync (no ETag, full diff)", broker)
        fault.reply("GET", "/v2/catalog", 200, payload, headers={"ETag": '"v1"'})
        measure("resync that stores the new ETag", broker)
        fault.reply("GET", "/v2/catalog", 304, b"", headers={"ETag": '"v1"'})
        etag = measure("unchanged resync (ETag → 304)", broker)
        changed = copy.deepcopy(body)
        changed["services"][7]["plans"][2]["maintenance_info"] = {"version": "1.1.0", "description": "patched"}
        fault.reply("GET", "/v2/catalog", 200, json.dumps(changed).encode(), headers={"ETag": '"v2"'})
        one = measure("one plan's maintenance_info changed", broker)
        print()
        print(f"resync / first sync: {resync[0] / first[0]:.3f}x time, {resync[1]}/{first[1]} queries")
        print(f"304 resync / first sync: {etag[0] / first[0]:.4f}x time")
        ok = resync[0] < 2.0 and resync[2] == 0 and etag[2] == 0
        print(
            f"target (unchanged resync < 2 s, zero writes): {'met' if ok else 'MISSED'}"
            f" — {resync[0]:.3f} s, {resync[2]} writes; one change → {one[2]} write(s)"
        )
        return 0 if ok else 1
    finally:
        fault.stop()
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)


if __name__ == "__main__":
    sys.exit(main())
