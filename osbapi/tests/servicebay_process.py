"""Another Servicebay: its own PostgreSQL database, a real gunicorn web process on its own port and a
real Celery worker on its own queue (for the federation test and bench/bench_osb_server.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_DSN = os.environ.get("PG_BROKER_ADMIN_DSN", "postgresql://servicebay:servicebay@127.0.0.1:5432/servicebay")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServicebayProcess:
    def __init__(self, name: str, log_dir: Path, env: dict[str, str] | None = None):
        self.db_name = f"servicebay_h7_{name}_{uuid.uuid4().hex[:8]}"
        self.log_dir = log_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.queue = f"h7-{name}-{uuid.uuid4().hex[:8]}"
        user_pw_host = PG_ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]
        self.env = {
            **os.environ,
            **(env or {}),
            "DATABASE_URL": f"postgres://{user_pw_host}/{self.db_name}",
            "SITE_URL": self.url,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "OPERATION_QUEUE": self.queue,
            "OPERATION_HEARTBEAT_SECONDS": "1",
            "OPERATION_SWEEP_SECONDS": "2",
            "OSB_RETRY_AFTER_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
            "DEBUG": "0",
        }
        self.procs: list[subprocess.Popen] = []

    # -- database --------------------------------------------------------------------------------
    def create_database(self) -> ServicebayProcess:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.db_name)))
        self.manage("migrate", "--noinput", timeout=300)
        return self

    def drop_database(self) -> None:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.db_name)))

    def manage(self, *args: str, timeout: float = 120) -> str:
        proc = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
        return proc.stdout

    def shell(self, code: str, timeout: float = 120) -> dict:
        """Run Python inside this Servicebay (its database); the last output line is JSON."""
        out = self.manage("shell", "-c", code, timeout=timeout)
        return json.loads(out.strip().splitlines()[-1])

    # -- processes -------------------------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{self.db_name}-{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.procs.append(proc)
        return proc

    def start_web(self, workers: int = 2, timeout: float = 60) -> ServicebayProcess:
        self._spawn(
            "web",
            [
                sys.executable, "-m", "gunicorn", "portal.wsgi:application",
                "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers), "--log-level", "warning",
            ],
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code < 500:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"Servicebay did not start on {self.url}:\n{self.log('web')[-3000:]}")

    def start_worker(self) -> ServicebayProcess:
        self._spawn(
            "worker",
            [
                sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", self.queue, "--pool", "solo",
                "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO",
                "-n", f"{self.queue}@%h",
            ],
        )  # fmt: skip
        return self

    def log(self, name: str) -> str:
        path = self.log_dir / f"{self.db_name}-{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.procs.clear()
