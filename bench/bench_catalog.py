"""Catalog benchmark: 2,000 types × 3 versions × 3 plans.

Reports the server time (median of several requests, through Django's test client, so no network)
and the query count of the catalog page, a search, a type page, the deploy form and the API list,
and the ratio against a baseline catalog of 60 types: the query counts must not grow, and time
should stay flat (pagination + prefetching), whatever the catalog's size.

    env $(make -s print-test-env) .venv/bin/python bench/bench_catalog.py [--types 2000] [--runs 15]

It creates (and drops) its own database ``bench_catalog_<pid>`` next to the configured one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import warnings  # noqa: E402

import django  # noqa: E402

warnings.filterwarnings("ignore", message="No directory at")

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

from catalog.demo import CHAT_BINDING, CHAT_MANIFESTS, CHAT_OUTPUTS, CHAT_PLANS, CHAT_SCHEMA  # noqa: E402

TAGS = ["chat", "nodejs", "queue", "sql", "cache", "search", "web", "batch", "ml", "metrics"]
WORDS = ["Chat", "Queue", "Store", "Cache", "Index", "Gateway", "Worker", "Stream", "Ledger", "Router"]


def load(n_types: int, prefix: str) -> None:
    from django.contrib.auth import get_user_model

    from catalog.models import Plan, ServiceType, TypeVersion
    from portal.models import Membership, Organization, Role, Team

    user = get_user_model().objects.get_or_create(username="bench")[0]
    org, _ = Organization.objects.get_or_create(slug="bench", defaults={"name": "Bench Corp"})
    teams = [
        Team.objects.get_or_create(org=org, slug=f"team-{i}", defaults={"name": f"Team {i}"})[0] for i in range(10)
    ]
    membership, _ = Membership.objects.get_or_create(org=org, user=user, defaults={"role": Role.ADMIN})
    membership.teams.add(teams[0])
    now = timezone.now()
    types = ServiceType.objects.bulk_create(
        [
            ServiceType(
                org=org,
                owner_team=teams[i % len(teams)],
                slug=f"{prefix}{i:05d}",
                name=f"{WORDS[i % len(WORDS)]} {i}",
                description=f"A {TAGS[i % len(TAGS)]} service number {i} for the benchmark.",
                icon="box",
                tags=[TAGS[i % len(TAGS)], TAGS[(i * 7) % len(TAGS)]],
                visibility=["org", "team", "public"][i % 3],
                created_at=now,
                updated_at=now,
            )
            for i in range(n_types)
        ],
        batch_size=500,
    )
    versions = []
    plans = []
    for type_ in types:
        for minor, state in enumerate(("deprecated", "published", "draft")):
            version = TypeVersion(
                type=type_,
                version=f"1.{minor}.0",
                state=state,
                manifests_template=CHAT_MANIFESTS,
                parameter_schema=CHAT_SCHEMA,
                outputs=CHAT_OUTPUTS,
                binding_template=CHAT_BINDING,
                published_at=now if state != "draft" else None,
            )
            version.set_sort_keys()
            versions.append(version)
        for spec in (*CHAT_PLANS, {**CHAT_PLANS[0], "slug": "medium", "name": "Medium", "order": 3}):
            plans.append(Plan(type=type_, **spec))
    TypeVersion.objects.bulk_create(versions, batch_size=1000)
    Plan.objects.bulk_create(plans, batch_size=1000)


def measure(client: Client, url: str, runs: int, **extra) -> tuple[float, int, int]:
    client.get(url, **extra)  # warm up
    times = []
    queries = 0
    status = 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url, **extra)
            times.append((time.perf_counter() - started) * 1000)
        queries = len(captured.captured_queries)
        status = response.status_code
    return statistics.median(times), queries, status


def scenario(n_types: int, runs: int, prefix: str) -> dict[str, tuple[float, int, int]]:
    from django.contrib.auth import get_user_model

    from catalog.models import ServiceType

    started = time.perf_counter()
    load(n_types, prefix)
    loaded = time.perf_counter() - started
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    last = ServiceType.objects.filter(slug__startswith=prefix).order_by("slug").last()
    pages = {
        "catalog page": ("/catalog/", {}),
        "search (q + owner filter)": (f"/catalog/?q=queue+{n_types - 1}&owner=bench/team-0", {}),
        "search (htmx fragment)": ("/catalog/?q=cache", {"HTTP_HX_REQUEST": "true"}),
        "type page": (f"/catalog/{last.slug}/", {}),
        "deploy form": (f"/catalog/{last.slug}/deploy/?plan=large", {}),
        "API list": ("/api/v1/types/?page_size=50", {}),
    }
    results = {name: measure(client, url, runs, **extra) for name, (url, extra) in pages.items()}
    print(f"  loaded {n_types} types, {3 * n_types} versions, {3 * n_types} plans in {loaded:.1f}s")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--types", type=int, default=2000)
    parser.add_argument("--baseline", type=int, default=60, help="small catalog (fills every page)")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver", "localhost"]
    settings.DEBUG = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = (
        f"bench_catalog_{os.getpid()}" if connection.vendor != "sqlite" else ""
    )
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        print(f"Catalog benchmark on {connection.vendor} ({args.runs} requests each, median server time)")
        print(f"baseline: {args.baseline} types")
        baseline = scenario(args.baseline, args.runs, "base-")
        from catalog.models import ServiceType

        ServiceType.objects.all().delete()
        print(f"large: {args.types} types")
        large = scenario(args.types, args.runs, "type-")
        print()
        print(f"{'request':<28} {'baseline ms':>12} {'large ms':>10} {'ratio':>7} {'queries':>9} {'status':>7}")
        worst = 0.0
        for name, (ms, queries, status) in large.items():
            base_ms, base_queries, _ = baseline[name]
            ratio = ms / base_ms if base_ms else float("inf")
            worst = max(worst, ratio)
            same = "=" if queries == base_queries else f"≠{base_queries}"
            print(f"{name:<28} {base_ms:>12.1f} {ms:>10.1f} {ratio:>6.2f}x {queries:>6} {same:<2} {status:>6}")
        print(f"\nworst time ratio {args.types}/{args.baseline} types: {worst:.2f}x")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
