"""Register (or refresh) the local control plane as cluster "local" of the demo org.

Used by `make run`. Reads $KUBECONFIG when set, else settings.LOCAL_KUBECONFIG (written by
scripts/cluster/cluster.sh). Without either, says plainly that Kubernetes is off.
"""

import os
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from instances import services
from instances.models import Cluster
from portal.models import Organization


class Command(BaseCommand):
    help = "Register the local (or $KUBECONFIG) cluster for an org."

    def add_arguments(self, parser):
        parser.add_argument("--org", default="acme")
        parser.add_argument("--as", dest="username", default="alice", help="an admin of the org")
        parser.add_argument("--name", default="local")

    def handle(self, *args, org, username, name, **options):
        path = Path(os.environ.get("KUBECONFIG") or settings.LOCAL_KUBECONFIG)
        if not path.is_file():
            self.stdout.write(
                f"Kubernetes is off: no kubeconfig at {path}. Servicebay runs without a cluster "
                "(run `make cluster` to start a local control plane, or set KUBECONFIG)."
            )
            return
        kubeconfig = path.read_text()
        organization = Organization.objects.get(slug=org)
        actor = get_user_model().objects.get(username=username)
        existing = Cluster.objects.filter(org=organization, name=name).first()
        if existing is None:
            cluster, _ = services.register_cluster(
                actor=actor,
                org=organization,
                name=name,
                kubeconfig=kubeconfig,
                via="system",
                description=f"from {path}",
            )
            self.stdout.write(f"Kubernetes: registered cluster {cluster.name!r} from {path}")
            return
        with transaction.atomic():
            if existing.kubeconfig != kubeconfig:  # a restarted control plane has new ports and certs
                existing.kubeconfig = kubeconfig
                existing.save(update_fields=["kubeconfig"])
            services.check_cluster(actor=actor, cluster=existing, via="system")
        self.stdout.write(f"Kubernetes: cluster {name!r} uses {path}")
