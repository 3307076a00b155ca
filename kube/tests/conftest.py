"""Fixtures for kube's own tests (also usable without ``-p kube.pytest_plugin``)."""

from kube.pytest_plugin import kube, kube_cluster, kube_namespace, pytest_collection_finish  # noqa: F401
