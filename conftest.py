"""Shared fixtures: personas (owner / teammate / outsider), API clients, a real worker."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from portal.models import Membership, Organization, Role, Team
from portal.services import create_api_token

pytest_plugins = ["kube.pytest_plugin"]  # kube_cluster, kube, kube_namespace (a real API server)

User = get_user_model()
PASSWORD = "correct-horse-battery"


def pytest_configure(config):
    from django.conf import settings

    # Fast hashing for test users; real hashing is Django's business, not ours.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # Tests render templates without running collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def make_user(username: str, **extra) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD, **extra)
    return user


@pytest.fixture
def org(db) -> Organization:
    return Organization.objects.create(slug="acme", name="Acme Corp")


@pytest.fixture
def other_org(db) -> Organization:
    return Organization.objects.create(slug="globex", name="Globex")


@pytest.fixture
def team(org) -> Team:
    return Team.objects.create(org=org, slug="chat", name="Chat")


@pytest.fixture
def owner(org, team) -> User:
    """An admin of ``org``."""
    user = make_user("owner")
    Membership.objects.create(org=org, user=user, role=Role.ADMIN).teams.add(team)
    return user


@pytest.fixture
def teammate(org) -> User:
    """A developer in the same org as ``owner``."""
    user = make_user("teammate")
    Membership.objects.create(org=org, user=user, role=Role.DEVELOPER)
    return user


@pytest.fixture
def viewer(org) -> User:
    user = make_user("viewer")
    Membership.objects.create(org=org, user=user, role=Role.VIEWER)
    return user


@pytest.fixture
def outsider(other_org) -> User:
    """An admin of another org: must see nothing of ``org``."""
    user = make_user("outsider")
    Membership.objects.create(org=other_org, user=user, role=Role.ADMIN)
    return user


def api_client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        _, key = create_api_token(user=user, name="tests")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def api(owner) -> APIClient:
    return api_client_for(owner)


@pytest.fixture
def api_for(db):
    return api_client_for


# --- real Celery worker processes ---------------------------------------------------------

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent


class WorkerProcess:
    """A real `celery worker` process on its own queue, talking to the test database."""

    def __init__(self, env: dict[str, str], queue: str, log_path: Path, beat: bool, schedule: Path):
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "-Q",
            queue,
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
            "-n",
            f"test-{uuid.uuid4().hex[:6]}@%h",
        ]
        if beat:
            cmd += ["--beat", "--schedule", str(schedule)]
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 (closed in stop)
        # Its own session, so a kill takes the whole process group down.
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill(self) -> None:
        """SIGKILL, as when a node dies: no cleanup, no acks."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def worker_factory(transactional_db, settings, tmp_path):
    """Start real workers against Redis and the test database; the test's queue is its own."""
    from django.db import connection

    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL (make test starts Redis)")
    from portal.celery import app

    queue = f"test-{uuid.uuid4().hex[:10]}"
    settings.OPERATION_QUEUE = queue
    # This process's own Celery messages (e.g. notification emails) go to the test's queue too; the
    # app was configured from settings at import, and its namespaced key wins over task_default_queue.
    previous_queue = app.conf.CELERY_TASK_DEFAULT_QUEUE
    app.conf.CELERY_TASK_DEFAULT_QUEUE = queue
    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{host}:{port}/{db['NAME']}",
        "OPERATION_QUEUE": queue,
        "OPERATION_HEARTBEAT_SECONDS": "1",
        "OPERATION_STALE_SECONDS": "4",
        "OPERATION_SWEEP_SECONDS": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "PYTHONUNBUFFERED": "1",
    }
    workers: list[WorkerProcess] = []

    def start(beat: bool = False) -> WorkerProcess:
        worker = WorkerProcess(env, queue, tmp_path / f"worker{len(workers)}.log", beat, tmp_path / "beat-schedule")
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
    app.conf.CELERY_TASK_DEFAULT_QUEUE = previous_queue
    with app.connection_for_write() as conn:  # drop the test queue
        conn.default_channel.client.delete(queue)


# --- a real browser: Debian's chromium driven by Playwright -----------------------------

import shutil

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium through Playwright (never a downloaded browser)."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make services` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the tests' ORM calls are still
    # synchronous and safe, so tell Django not to refuse them.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
