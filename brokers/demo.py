"""The example brokers in ``make run``: which can run here, and running them (no Django).

A broker runs only when its backing service answers: PostgreSQL at ``PG_BROKER_ADMIN_DSN`` for the
PostgreSQL broker, the RabbitMQ management API at ``RABBITMQ_MANAGEMENT_URL`` for the RabbitMQ one.
``python -m brokers.demo serve`` (the Procfile's ``brokers`` process) starts the available ones on
their fixed ports and otherwise stays idle (honcho stops everything when one process exits);
``python -m brokers.demo probe`` prints what is available. ``manage.py seed_brokers`` registers the
same ones in the demo data.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass

import httpx
import psycopg

from brokers.postgres import DEFAULT_ADMIN_DSN


@dataclass(frozen=True)
class DemoBroker:
    name: str
    module: str
    port: int
    title: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


BROKERS = (
    DemoBroker("postgres", "brokers.postgres", int(os.environ.get("PG_BROKER_PORT", "8601")), "PostgreSQL"),
    DemoBroker("rabbitmq", "brokers.rabbitmq", int(os.environ.get("RABBITMQ_BROKER_PORT", "8602")), "RabbitMQ"),
)


def credentials() -> tuple[str, str]:
    return os.environ.get("BROKER_USERNAME", "broker"), os.environ.get("BROKER_PASSWORD", "broker-secret")


def _postgres_error() -> str:
    try:
        with psycopg.connect(os.environ.get("PG_BROKER_ADMIN_DSN", DEFAULT_ADMIN_DSN), connect_timeout=2):
            return ""
    except psycopg.Error as exc:
        return f"PostgreSQL is not reachable ({str(exc).strip().splitlines()[0][:200]})"


def _rabbitmq_error() -> str:
    url = os.environ.get("RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672").rstrip("/")
    env = os.environ.get
    auth = (env("RABBITMQ_ADMIN_USER", "servicebay"), env("RABBITMQ_ADMIN_PASSWORD", "servicebay"))
    try:
        response = httpx.get(f"{url}/api/overview", auth=auth, timeout=2)
    except httpx.HTTPError as exc:
        return f"the RabbitMQ management API is not reachable ({exc.__class__.__name__})"
    return "" if response.status_code == 200 else f"the RabbitMQ management API answered {response.status_code}"


def availability() -> dict[str, str]:
    """Broker name → "" when its backing service answers, else why it cannot run."""
    return {"postgres": _postgres_error(), "rabbitmq": _rabbitmq_error()}


def available() -> list[DemoBroker]:
    reasons = availability()
    return [broker for broker in BROKERS if not reasons[broker.name]]


def serve() -> None:
    """Start the available brokers and wait; stay idle when none can run."""
    username, password = credentials()
    env = {**os.environ, "BROKER_USERNAME": username, "BROKER_PASSWORD": password}
    reasons = availability()
    children = []
    for broker in BROKERS:
        if reasons[broker.name]:
            print(f"{broker.title} broker off: {reasons[broker.name]}", flush=True)
            continue
        print(f"{broker.title} broker on {broker.url}", flush=True)
        command = [sys.executable, "-m", broker.module, "--port", str(broker.port)]
        if broker.name == "rabbitmq":
            command.append("--async-provision")
        children.append(subprocess.Popen(command, env=env))
    stopped = threading.Event()

    def stop(signum, frame):
        for child in children:
            child.terminate()
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if not children:
        print("No example broker can run here (see above); idle.", flush=True)
    stopped.wait()
    for child in children:
        child.wait(10)


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        serve()
        return 0
    if argv[:1] == ["probe"]:
        for name, reason in availability().items():
            print(f"{name}: {reason or 'available'}")
        return 0
    print("usage: python -m brokers.demo serve|probe", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
