"""Provision N instances of a small type against the local control plane.

Reports provisioning throughput, Kubernetes API calls per instance, and the status refresh
(one list per kind and namespace) against the naive baseline of one GET per object, as a ratio.

    make bench-instances            # N=200
    .venv/bin/python bench/bench_instances.py --count 50

Uses its own SQLite database in a temporary directory and the cluster of $KUBECONFIG or the
local control plane (scripts/cluster/cluster.sh start). Operations run in this process, one
after the other, exactly as a worker runs them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def kubeconfig_path() -> str:
    if os.environ.get("KUBECONFIG"):
        return os.environ["KUBECONFIG"]
    out = subprocess.run(["bash", str(ROOT / "scripts/cluster/cluster.sh"), "start"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"cannot start the local control plane:\n{out.stderr}")
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    kubeconfig = Path(kubeconfig_path()).read_text()

    data = tempfile.mkdtemp(prefix="sb-bench-")
    os.environ.update(
        {
            "SERVICEBAY_DATA_DIR": data,
            "DEBUG": "1",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "INSTANCE_READY_TIMEOUT_SECONDS": "120",
        }
    )
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import kube
    from catalog.models import Plan, ServiceType, TypeVersion
    from instances import services, status
    from instances.models import Cluster, Instance
    from instances.tests.conftest import BINDING, MANIFESTS, OUTPUTS, SCHEMA
    from portal import operations
    from portal.models import Membership, Organization, Role, Team

    user = get_user_model().objects.create_user("bench")
    org = Organization.objects.create(slug="bench", name="Bench")
    team = Team.objects.create(org=org, slug="t", name="T")
    Membership.objects.create(org=org, user=user, role=Role.ADMIN).teams.add(team)
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    cluster = Cluster.objects.create(org=org, name="local", kubeconfig=kubeconfig, default_namespace=namespace)
    service_type = ServiceType.objects.create(org=org, owner_team=team, slug="chat", name="Chat")
    TypeVersion.objects.create(
        type=service_type,
        version="1.0.0",
        state="published",
        manifests_template=MANIFESTS,
        parameter_schema=SCHEMA,
        outputs=OUTPUTS,
        binding_template=BINDING,
    )
    plan = Plan.objects.create(
        type=service_type, slug="small", name="Small", values={"replicas": 1}, locked=["replicas"]
    )

    counted = {"requests": 0}
    connect = Cluster.connect

    def counting_connect(self):  # every client this run makes adds its request count on close
        client = connect(self)
        close = client.close

        def close_and_count():
            counted["requests"] += client.requests
            close()

        client.close = close_and_count
        return client

    Cluster.connect = counting_connect
    started = time.monotonic()
    for n in range(args.count):
        _, op = services.provision_instance(actor=user, org=org, service_type=service_type, name=f"c{n}", plan=plan)
        operations.execute(op.pk)
    elapsed = time.monotonic() - started
    ready = Instance.objects.filter(state="ready").count()
    provision_calls = counted["requests"]
    print(f"provisioned {ready}/{args.count} instances in {elapsed:.1f}s: {args.count / elapsed:.1f} instances/s")
    print(f"Kubernetes API calls per instance: {provision_calls / args.count:.1f}")

    counted["requests"] = 0
    t0 = time.monotonic()
    status.refresh_cluster(cluster)
    list_time, list_calls = time.monotonic() - t0, counted["requests"]
    counted["requests"] = 0
    t0 = time.monotonic()
    with cluster.connect() as client:  # the baseline: one GET per object of every instance
        for instance in Instance.objects.all():
            for ref in instance.resources:
                client.get(ref["apiVersion"], ref["kind"], ref["name"], ref["namespace"])
    get_time, get_calls = time.monotonic() - t0, counted["requests"]
    print(
        f"status refresh: {list_calls} list calls in {list_time:.2f}s vs baseline {get_calls} GETs in "
        f"{get_time:.2f}s — ratio {get_time / list_time:.1f}x faster, {get_calls / max(list_calls, 1):.0f}x fewer calls"
    )
    with cluster.connect() as client:
        client.delete(kube.Ref("v1", "Namespace", namespace), wait=False)


if __name__ == "__main__":
    main()
