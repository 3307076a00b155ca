"""pytest fixtures for tests against a real Kubernetes API server.

Load with ``-p kube.pytest_plugin`` (or ``pytest_plugins`` in a root conftest).

* ``kube_cluster`` (session): the kubeconfig path. Uses ``KUBECONFIG`` when set,
  else runs ``scripts/cluster/cluster.sh start`` (which builds the control plane
  the first time). Tests are skipped only when that script says it cannot build
  (exit code 3, e.g. no Go); a cluster started here is stopped at the end unless
  ``SERVICEBAY_KEEP_CLUSTER=1``.
* ``kube`` (session): a connected :class:`kube.Kube`.
* ``kube_namespace``: a fresh namespace per test, deleted afterwards.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import Kube, connect

CLUSTER_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "cluster" / "cluster.sh"
EXIT_CANNOT_BUILD = 3
TEST_NAMESPACE_LABEL = "servicebay.test/namespace"


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[str]:
    """Path of a kubeconfig for a running cluster."""
    env = os.environ.get("KUBECONFIG")
    if env:
        yield env.split(os.pathsep)[0]
        return
    if not CLUSTER_SCRIPT.exists():
        pytest.skip(f"no KUBECONFIG and no {CLUSTER_SCRIPT}")
    was_running = subprocess.run([str(CLUSTER_SCRIPT), "status"], capture_output=True).returncode == 0
    proc = subprocess.run([str(CLUSTER_SCRIPT), "start"], capture_output=True, text=True)
    if proc.returncode == EXIT_CANNOT_BUILD:
        why = (proc.stderr.strip().splitlines() or ["cannot build"])[-1].removeprefix("cluster: ")
        pytest.skip(f"no Kubernetes control plane here: {why}")
    if proc.returncode != 0:
        pytest.fail(f"{CLUSTER_SCRIPT} start failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}", pytrace=False)
    lines = proc.stdout.strip().splitlines()
    if not lines:
        pytest.fail(f"{CLUSTER_SCRIPT} start printed no kubeconfig path:\n{proc.stderr[-3000:]}", pytrace=False)
    try:
        yield lines[-1]
    finally:
        if not was_running and os.environ.get("SERVICEBAY_KEEP_CLUSTER") != "1":
            subprocess.run([str(CLUSTER_SCRIPT), "stop"], capture_output=True)


@pytest.fixture(scope="session")
def kube(kube_cluster: str) -> Iterator[Kube]:
    """A Kube connected as the cluster's admin."""
    k = connect(Path(kube_cluster).read_text())
    yield k
    k.close()


@pytest.fixture
def kube_namespace(kube: Kube) -> Iterator[str]:
    """A fresh, empty namespace for one test; deleted (without waiting) afterwards."""
    name = f"sb-test-{uuid.uuid4().hex[:10]}"
    kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {TEST_NAMESPACE_LABEL: "true"}}}
    )
    yield name
    kube.delete(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, propagation="Background", wait=False
    )
