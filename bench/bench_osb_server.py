"""Servicebay as an OSB broker under load, side by side with an openbrokerapi broker.

Both serve the same catalog (the openbrokerapi broker gets Servicebay's own /v2/catalog answer) with
gunicorn and the same number of worker processes, on this machine. Two scenarios, each for
``--seconds`` with ``--concurrency`` clients (several client processes, keep-alive off as gunicorn's
sync workers close connections):

* ``GET /v2/catalog`` (basic auth + X-Broker-API-Version, as platforms send it);
* ``PUT /v2/service_instances/:id?accepts_incomplete=true`` with a fresh id each time: Servicebay
  validates the parameters against the schema, writes the instance, its operation and two audit
  events to PostgreSQL and enqueues the operation (202); the openbrokerapi baseline only answers 202
  (it keeps no state) — the ratio is what Servicebay's real work costs over the bare protocol stack.

Servicebay runs with persistent database connections (``DATABASE_CONN_MAX_AGE=60``, as in production).
Prints requests/s and p99 latency for both and the ratio Servicebay/openbrokerapi.

    env $(make -s print-test-env) .venv/bin/python bench/bench_osb_server.py [--workers 4] [--seconds 6]

It creates (and drops) its own database ``servicebay_h7_bench_*`` and never starts Kubernetes work
(no Celery worker consumes the bench's queue; the queue is deleted at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from threading import Thread

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from osbapi.tests.servicebay_process import ServicebayProcess, free_port  # noqa: E402

SEED = """
import json
from django.contrib.auth import get_user_model
from catalog.demo import CHAT_MANIFESTS, CHAT_OUTPUTS, CHAT_BINDING, CHAT_SCHEMA
from catalog.models import Plan, ServiceType, TypeVersion
from instances.models import Cluster
from osbapi.services import create_platform_credential
from portal.models import Membership, Organization, Role, Team

org = Organization.objects.create(slug="bench", name="Bench")
team = Team.objects.create(org=org, slug="t", name="T")
owner = get_user_model().objects.create_user("bench-owner")
Membership.objects.create(org=org, user=owner, role=Role.ADMIN).teams.add(team)
Cluster.objects.create(org=org, name="bench", kubeconfig="apiVersion: v1\\nkind: Config\\n", default_namespace="bench")
for i in range(TYPES):
    t = ServiceType.objects.create(org=org, owner_team=team, slug=f"chat-{i}", name=f"Chat {i}",
                                   description="Team chat", osb_enabled=True, tags=["chat"])
    TypeVersion.objects.create(type=t, version="1.0.0", state="published", manifests_template=CHAT_MANIFESTS,
                               parameter_schema=CHAT_SCHEMA, outputs=CHAT_OUTPUTS, binding_template=CHAT_BINDING)
    for j, slug in enumerate(["small", "medium", "large"]):
        Plan.objects.create(type=t, slug=slug, name=slug.title(), values={"replicas": j + 1}, locked=["replicas"],
                            order=j)
credential, secret = create_platform_credential(actor=owner, org=org, name="bench")
print(json.dumps({"username": credential.username, "secret": secret}))
"""


def _worker(url: str, kind: str, auth: tuple[str, str], body: dict, seconds: float, threads: int) -> tuple:
    """One client process: ``threads`` threads hammering ``url`` for ``seconds``; (latencies, errors)."""
    latencies: list[float] = []
    errors: dict[int, int] = {}
    deadline = time.monotonic() + seconds
    headers = {"X-Broker-API-Version": "2.17", "Connection": "close"}

    def loop():
        with httpx.Client(auth=auth, headers=headers, timeout=30) as client:
            while time.monotonic() < deadline:
                start = time.perf_counter()
                if kind == "catalog":
                    r = client.get(f"{url}/v2/catalog")
                    ok = r.status_code == 200
                else:
                    r = client.put(
                        f"{url}/v2/service_instances/{uuid.uuid4()}", params={"accepts_incomplete": "true"}, json=body
                    )
                    ok = r.status_code == 202
                latencies.append(time.perf_counter() - start)
                if not ok:
                    errors[r.status_code] = errors.get(r.status_code, 0) + 1

    pool = [Thread(target=loop) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return latencies, errors


def load(url: str, kind: str, auth, body, seconds: float, concurrency: int, processes: int) -> dict:
    threads = max(1, concurrency // processes)
    with ProcessPoolExecutor(processes) as pool:
        futures = [pool.submit(_worker, url, kind, auth, body, seconds, threads) for _ in range(processes)]
        results = [f.result() for f in futures]
    latencies = sorted(x for lat, _ in results for x in lat)
    errors: dict[int, int] = {}
    for _, errs in results:
        for code, n in errs.items():
            errors[code] = errors.get(code, 0) + n
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99_ms": p99 * 1000,
    }


def start_baseline(catalog_path: Path, workers: int, username: str, password: str, log: Path):
    port = free_port()
    env = {
        **os.environ,
        "OSB_BASELINE_CATALOG": str(catalog_path),
        "BROKER_USERNAME": username,
        "BROKER_PASSWORD": password,
        "DISABLE_SPACE_ORG_GUID_CHECK": "true",
    }
    with open(log, "ab") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "bench.osb_baseline:app", "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/v2/catalog", timeout=2)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the openbrokerapi baseline did not start:\n{log.read_text()[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes of each broker")
    parser.add_argument("--seconds", type=float, default=6.0, help="duration of each scenario")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--types", type=int, default=10, help="OSB-enabled types (offerings) in the catalog")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-osb-"))
    # persistent database connections, as in production (the default, 0, reconnects on every request)
    sb = ServicebayProcess("bench", tmp, env={"LOG_LEVEL": "WARNING", "DATABASE_CONN_MAX_AGE": "60"})
    baseline = None
    started = time.monotonic()
    try:
        print(f"Preparing: database {sb.db_name}, {args.types} offerings × 3 plans …", flush=True)
        sb.create_database()
        seed = sb.shell(SEED.replace("range(TYPES)", f"range({args.types})"))
        sb.start_web(workers=args.workers)
        auth = (seed["username"], seed["secret"])
        sb_url = f"{sb.url}/osb"
        catalog = httpx.get(f"{sb_url}/v2/catalog", auth=auth, headers={"X-Broker-API-Version": "2.17"}).json()
        catalog_path = tmp / "catalog.json"
        catalog_path.write_text(json.dumps(catalog))
        baseline, base_url = start_baseline(catalog_path, args.workers, *auth, tmp / "baseline.log")
        base_catalog = httpx.get(f"{base_url}/v2/catalog", auth=auth, headers={"X-Broker-API-Version": "2.17"}).json()
        assert len(base_catalog["services"]) == len(catalog["services"]) == args.types
        offering = catalog["services"][0]
        body = {
            "service_id": offering["id"],
            "plan_id": offering["plans"][0]["id"],
            "organization_guid": "bench-org",
            "space_guid": "bench-space",
            "context": {"platform": "cloudfoundry"},
            "parameters": {"admin_password": "bench-password-1234"},  # the demo chat type requires it
        }
        probe = httpx.put(
            f"{sb_url}/v2/service_instances/{uuid.uuid4()}",
            params={"accepts_incomplete": "true"},
            json=body,
            auth=auth,
            headers={"X-Broker-API-Version": "2.17"},
        )
        assert probe.status_code == 202, probe.text
        # warm up both (imports, connections, the password check cache of each worker)
        for url in (sb_url, base_url):
            load(url, "catalog", auth, body, 1.0, args.concurrency, args.client_processes)

        results = {}
        for kind in ("catalog", "provision"):
            for name, url in (("servicebay", sb_url), ("openbrokerapi", base_url)):
                results[(kind, name)] = load(
                    url, kind, auth, body, args.seconds, args.concurrency, args.client_processes
                )

        print(
            f"\nOSB broker bench — {args.workers} gunicorn workers each, {args.concurrency} concurrent clients, "
            f"{args.seconds:.0f}s per scenario, catalog of {args.types} offerings × 3 plans"
        )
        print(f"{'scenario':<22}{'broker':<15}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
        for kind, label in (("catalog", "GET /v2/catalog"), ("provision", "PUT provision (202)")):
            for name in ("servicebay", "openbrokerapi"):
                r = results[(kind, name)]
                errs = sum(r["errors"].values())
                print(f"{label:<22}{name:<15}{r['rps']:>9.1f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{errs:>8}")
                if errs:
                    print(f"{'':<37}statuses of the errors: {r['errors']}")
            sb_r, base_r = results[(kind, "servicebay")], results[(kind, "openbrokerapi")]
            print(
                f"{'':<22}{'ratio':<15}{sb_r['rps'] / base_r['rps']:>9.2f}{'':>9}"
                f"{sb_r['p99_ms'] / base_r['p99_ms']:>9.2f}   (servicebay / openbrokerapi)"
            )
        print(f"\n(total {time.monotonic() - started:.0f}s)")
        failed = any(sum(r["errors"].values()) for r in results.values())
        return 1 if failed else 0
    finally:
        if baseline is not None and baseline.poll() is None:
            os.killpg(baseline.pid, 15)
            baseline.wait(timeout=10)
        sb.stop()
        sb.drop_database()
        _drop_queue(sb.queue)


def _drop_queue(queue: str) -> None:
    if not os.environ.get("REDIS_URL"):
        return
    try:
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).delete(queue)
    except Exception as exc:  # noqa: BLE001 (cleanup only)
        print(f"(could not delete the queue {queue}: {exc})")


if __name__ == "__main__":
    sys.exit(main())
