"""Start the example brokers as real processes on free loopback ports, against the real backing services."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from osb.client import BrokerClient, basic

ROOT = Path(__file__).resolve().parents[2]
USERNAME, PASSWORD = "platform", "broker-test-password"
RABBITMQ_MANAGEMENT = os.environ.get("RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672")
RABBITMQ_ADMIN = (
    os.environ.get("RABBITMQ_ADMIN_USER", "servicebay"),
    os.environ.get("RABBITMQ_ADMIN_PASSWORD", "servicebay"),
)


class BrokerProcess:
    """``python -m brokers.<name> --port 0``; the URL is the first line it prints."""

    def __init__(self, module: str, args: list[str], log_path: Path):
        self.module, self.args, self.log_path = module, args, log_path
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 30) -> BrokerProcess:
        env = {**os.environ, "BROKER_USERNAME": USERNAME, "BROKER_PASSWORD": PASSWORD, "PYTHONUNBUFFERED": "1"}
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child keeps it)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module, "--port", "0", *self.args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout)
        selector.close()
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("listening on "):
            self.kill()
            raise RuntimeError(f"{self.module} did not start: {line!r}\n{self.log()[-3000:]}")
        self.url = line.split()[-1]
        return self

    def client(self, **kw) -> BrokerClient:
        return BrokerClient(self.url, auth=basic(USERNAME, PASSWORD), timeout=kw.pop("timeout", 15), **kw)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL: no cleanup, as when a machine dies."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture(scope="session")
def pg_admin_dsn() -> str:
    dsn = os.environ.get("PG_BROKER_ADMIN_DSN") or os.environ.get("DATABASE_URL", "")
    if not dsn.startswith(("postgres://", "postgresql://")):
        dsn = "postgresql://servicebay:servicebay@127.0.0.1:5432/servicebay"
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable ({exc}); run scripts/services.sh postgres")
    return dsn


@pytest.fixture
def pg_admin(pg_admin_dsn):
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def start_broker(tmp_path):
    """Start broker processes; every one still running is stopped at the end of the test."""
    started: list[BrokerProcess] = []

    def start(module: str, *args: str) -> BrokerProcess:
        broker = BrokerProcess(module, list(args), tmp_path / f"{module.split('.')[-1]}-{len(started)}.log")
        started.append(broker)
        return broker.start()

    yield start
    for broker in started:
        broker.stop()


@pytest.fixture
def pg_state_schema(pg_admin_dsn):
    """A state schema of the test's own, dropped afterwards (the default is broker_state)."""
    schema = f"broker_state_test_{uuid.uuid4().hex[:10]}"
    yield schema
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def rabbitmq_admin():
    client = httpx.Client(base_url=RABBITMQ_MANAGEMENT + "/api", auth=RABBITMQ_ADMIN, timeout=10)
    try:
        client.get("/overview").raise_for_status()
    except httpx.HTTPError as exc:
        pytest.skip(f"RabbitMQ's management API is not reachable ({exc}); run scripts/services.sh rabbitmq")
    yield client
    client.close()
