"""pytest fixtures for tests against a real Kubernetes API server.

Load with ``-p kube.pytest_plugin`` (or ``pytest_plugins`` in a root conftest).

* ``kube_cluster`` (session): the kubeconfig path. Uses ``KUBECONFIG`` when set,
  else runs ``scripts/cluster/cluster.sh start``. Tests are skipped only when
  that script says it cannot build (exit code 3, e.g. no Go); a cluster started
  here is stopped at the end unless ``SERVICEBAY_KEEP_CLUSTER=1``. The first,
  long build (~10 min) runs right after collection when a selected test needs
  the cluster, outside any per-test timeout.
* ``kube`` (session): a connected :class:`kube.Kube`.
* ``kube_namespace``: a fresh namespace per test, deleted afterwards.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import Kube, connect

CLUSTER_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "cluster" / "cluster.sh"
EXIT_CANNOT_BUILD = 3
TEST_NAMESPACE_LABEL = "servicebay.test/namespace"


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the control plane before the tests run (not inside a test's timeout)."""
    if os.environ.get("KUBECONFIG") or not CLUSTER_SCRIPT.exists():
        return
    if not any("kube_cluster" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    capture = session.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        subprocess.run([str(CLUSTER_SCRIPT), "build"], stdout=sys.stderr)  # exit 3 is reported by the fixture


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
    """A fresh namespace for one test, ready for Pods (its ``default``
    ServiceAccount exists); deleted, without waiting, afterwards."""
    name = f"sb-test-{uuid.uuid4().hex[:10]}"
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    kube.apply(namespace | {"metadata": {"name": name, "labels": {TEST_NAMESPACE_LABEL: "true"}}})
    deadline = time.monotonic() + 30
    while kube.get_or_none("v1", "ServiceAccount", "default", name) is None and time.monotonic() < deadline:
        time.sleep(0.1)  # the controller manager creates it; Pods are refused until then
    yield name
    kube.delete(namespace, propagation="Background", wait=False)
