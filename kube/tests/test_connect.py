"""connect() and an unreachable cluster (no cluster needed)."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kube import KubeError, KubeUnreachable, connect


def kubeconfig(server: str, namespace: str | None = None) -> str:
    ns = f"\n    namespace: {namespace}" if namespace else ""
    return f"""
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: {server}
    insecure-skip-tls-verify: true
users:
- name: u
  user:
    token: not-a-real-token
contexts:
- name: ctx
  context:
    cluster: c
    user: u{ns}
current-context: ctx
"""


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when we return


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield int(s.getsockname()[1])


def test_closed_port_is_unreachable_quickly(closed_port: int) -> None:
    kube = connect(kubeconfig(f"https://127.0.0.1:{closed_port}"), timeout=2)
    start = time.monotonic()
    with pytest.raises(KubeUnreachable) as err:
        kube.version()
    assert time.monotonic() - start < 3
    assert f"127.0.0.1:{closed_port}" in str(err.value) and "connection refused" in str(err.value)
    health = kube.health()
    assert not health.reachable and health.version is None and "connection refused" in (health.error or "")
    with pytest.raises(KubeUnreachable):
        kube.list("v1", "ConfigMap", "default")


def test_silent_server_times_out(silent_port: int) -> None:
    kube = connect(kubeconfig(f"https://127.0.0.1:{silent_port}"), timeout=1)
    start = time.monotonic()
    with pytest.raises(KubeUnreachable, match="timed out"):
        kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert time.monotonic() - start < 5


def test_connect_never_reads_default_config(monkeypatch: pytest.MonkeyPatch, closed_port: int) -> None:
    monkeypatch.setenv("KUBECONFIG", "/nonexistent")
    with pytest.raises(KubeError, match="no kubeconfig"):
        connect(None)
    with pytest.raises(KubeError, match="invalid Kubernetes configuration"):
        connect("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    with pytest.raises(KubeError):
        connect("just a string")


def test_context_namespace_is_the_default(closed_port: int) -> None:
    assert connect(kubeconfig(f"https://127.0.0.1:{closed_port}", "shop")).namespace == "shop"
    assert connect(kubeconfig(f"https://127.0.0.1:{closed_port}")).namespace == "default"


def test_health_of_the_real_cluster(kube_cluster: str) -> None:
    health = connect(Path(kube_cluster).read_text()).health()
    assert health.reachable and health.error is None
    assert (health.version or "").startswith("v1.")


def test_untrusted_server_certificate_is_unreachable(kube_cluster: str) -> None:
    config = yaml.safe_load(Path(kube_cluster).read_text())
    [cluster] = config["clusters"]
    # Trust some other CA: this machine's system bundle does not sign the test CA.
    cluster["cluster"].pop("certificate-authority-data", None)
    cluster["cluster"]["certificate-authority"] = (
        ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
    )
    kube = connect(yaml.safe_dump(config), timeout=2)
    with pytest.raises(KubeUnreachable, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        kube.version()
