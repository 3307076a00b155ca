"""The CLI against a live Servicebay server (real HTTP), and a real worker for --wait."""

from __future__ import annotations

import json
import stat

import pytest
import yaml

from conftest import make_user
from portal import services
from portal.models import Membership, Role
from sbay.cli import main


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SBAY_CONFIG", str(tmp_path / "sbay.json"))
    for name in ("SBAY_URL", "SBAY_TOKEN", "SBAY_ORG"):
        monkeypatch.delenv(name, raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    run.config_path = tmp_path / "sbay.json"
    return run


@pytest.fixture
def logged_in(cli, live_server, owner):
    _, key = services.create_api_token(user=owner, name="cli")
    code, out, err = cli("login", "--url", live_server.url, "--token", key)
    assert code == 0, err
    return cli


def test_login_saves_config_privately(cli, live_server, owner):
    _, key = services.create_api_token(user=owner, name="cli")
    code, out, _ = cli("login", "--url", live_server.url, "--token", key)
    assert code == 0 and "Logged in to" in out and "as owner (org: acme)" in out
    saved = json.loads(cli.config_path.read_text())
    assert saved == {"url": live_server.url, "token": key, "org": "acme"}
    assert stat.S_IMODE(cli.config_path.stat().st_mode) == 0o600


def test_bad_token_and_not_logged_in(cli, live_server, transactional_db):
    code, _, err = cli("whoami")
    assert code == 3 and "Not logged in" in err
    code, _, err = cli("login", "--url", live_server.url, "--token", "sbay_wrong")
    assert code == 3 and "Invalid API token" in err
    assert not cli.config_path.exists()


def test_unreachable_server(cli):
    code, _, err = cli("login", "--url", "http://127.0.0.1:9", "--token", "x")
    assert code == 6 and "Cannot connect to http://127.0.0.1:9" in err


def test_not_a_servicebay_server(cli, live_server, transactional_db):
    code, _, err = cli("login", "--url", live_server.url + "/healthz?", "--token", "x")
    assert code in (4, 6)


def test_usage_errors_exit_2(cli):
    assert cli("orgs")[0] == 2
    assert cli("login", "--url", "ftp://x", "--token", "t")[0] == 2
    assert cli()[0] == 2


def test_whoami_and_output_formats(logged_in):
    code, out, _ = logged_in("whoami")
    assert code == 0 and out.startswith("owner <owner@example.com>")
    code, out, _ = logged_in("whoami", "-o", "json")
    assert json.loads(out)["username"] == "owner"
    code, out, _ = logged_in("whoami", "-o", "yaml")
    assert yaml.safe_load(out)["current_org"] == "acme"


def test_orgs_list_and_switch(logged_in, owner, other_org):
    Membership.objects.create(org=other_org, user=owner, role=Role.VIEWER)
    code, out, _ = logged_in("orgs", "list")
    lines = out.splitlines()
    assert code == 0 and "SLUG" in lines[0]
    assert lines[1].split()[:3] == ["*", "acme", "Acme"]
    code, out, _ = logged_in("orgs", "switch", "globex")
    assert code == 0 and "Now acting in Globex (globex) as viewer." in out
    assert json.loads(logged_in.config_path.read_text())["org"] == "globex"
    assert json.loads(logged_in("whoami", "-o", "json")[1])["current_org"] == "globex"
    code, _, err = logged_in("orgs", "switch", "initech")
    assert code == 4 and "not a member of an organization called 'initech'" in err


def test_orgs_members(logged_in, teammate):
    code, out, _ = logged_in("orgs", "members")
    assert code == 0 and "teammate" in out and "developer" in out


def test_viewer_is_refused_with_exit_3(cli, live_server, org, transactional_db):
    viewer = make_user("watcher")
    Membership.objects.create(org=org, user=viewer, role=Role.VIEWER)
    _, key = services.create_api_token(user=viewer, name="cli")
    cli("login", "--url", live_server.url, "--token", key)
    code, _, err = cli("check-workers")
    assert code == 3 and "developer role" in err


def test_ops_get_unknown_is_exit_4(logged_in):
    code, _, err = logged_in("ops", "get", "00000000-0000-0000-0000-000000000000")
    assert code == 4 and "No operation matches" in err


@pytest.mark.worker
def test_check_workers_wait_follows_the_operation(logged_in, worker_factory):
    worker_factory()
    code, out, err = logged_in("check-workers", "--steps", "2", "--seconds", "0.2", "--wait")
    assert code == 0, err
    assert "Worker check requested by owner" in out
    assert "Step 2 of 2 done" in out and out.rstrip().endswith("succeeded.")
    op_id = out.rstrip().splitlines()[-1].split()[1]
    code, out, _ = logged_in("ops", "get", op_id, "-o", "yaml")
    op = yaml.safe_load(out)
    assert op["state"] == "succeeded" and op["steps"][-1]["message"] == "Succeeded"
    code, out, _ = logged_in("ops", "watch", op_id)
    assert code == 0 and "succeeded" in out
    code, out, _ = logged_in("ops", "list", "--state", "succeeded")
    assert op_id in out
    code, out, _ = logged_in("inbox", "--unread")
    assert "Worker check of Acme Corp succeeded" in out
    code, out, _ = logged_in("ops", "cancel", op_id)
    assert code == 5 and out == ""


def test_watch_exits_1_when_the_operation_fails(logged_in, org, owner):
    from portal.models import Operation

    op = services.check_workers(actor=owner, org=org)
    Operation.objects.filter(pk=op.pk).update(state="failed", error="boom")
    code, out, _ = logged_in("ops", "watch", str(op.pk))
    assert code == 1 and "failed. boom" in out
