"""Admins are told of a purchase over the limit by inbox AND email; the requester of the decision.

Email leaves through portal.tasks.send_notification_email on a real Celery worker (the root
``worker_factory``), configured by EMAIL_HOST to speak SMTP to a small loopback SMTP server
here, so the test reads what was actually sent.
"""

from __future__ import annotations

import email
import email.policy
import socketserver
import threading
import time

import pytest

from conftest import make_user
from marketplace import services
from marketplace.models import PurchaseRequest
from portal.models import Membership, Notification, Profile, Role

pytestmark = pytest.mark.django_db(transaction=True)


class _SMTPHandler(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 localhost test SMTP")
        sender, recipients = "", []
        while line := self.rfile.readline():
            command = line.decode(errors="replace").strip()
            verb = command[:4].upper()
            if verb == "EHLO":
                self.reply("250-localhost")
                self.reply("250 8BITMIME")
            elif verb == "MAIL":
                sender, recipients = command[10:], []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command[8:].strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                self.server.messages.append(
                    (sender, recipients, email.message_from_bytes(data, policy=email.policy.default))
                )
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:  # HELO, RSET, NOOP
                self.reply("250 OK")


class SMTPSink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.messages: list = []

    def wait_for(self, count: int, timeout: float = 30) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < count:
            time.sleep(0.2)
        assert len(self.messages) >= count, f"{len(self.messages)} emails; worker log:\n{self.worker.log()[-3000:]}"
        return list(self.messages)


@pytest.fixture
def smtp(monkeypatch):
    server = SMTPSink()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # Read by the worker's settings (worker_factory copies os.environ when it is set up).
    monkeypatch.setenv("EMAIL_HOST", "127.0.0.1")
    monkeypatch.setenv("EMAIL_PORT", str(server.server_address[1]))
    monkeypatch.setenv("EMAIL_USE_TLS", "false")
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def mail_worker(smtp, worker_factory):
    """A real worker (worker_factory sends this process's Celery messages, the emails, to its queue)."""
    worker = worker_factory()
    smtp.worker = worker
    yield smtp
    worker.stop()


def by_recipient(messages) -> dict:
    return {to: message for _, recipients, message in messages for to in recipients}


def test_admins_get_inbox_and_email_and_the_requester_hears_the_decision(listing, mail_worker, org, owner, teammate):
    second_admin = make_user("treasurer")
    Membership.objects.create(org=org, user=second_admin, role=Role.ADMIN)
    quiet_admin = make_user("quiet")
    Membership.objects.create(org=org, user=quiet_admin, role=Role.ADMIN)
    Profile.objects.update_or_create(user=quiet_admin, defaults={"email_notifications": False})

    purchase, op = services.request_purchase(actor=teammate, org=org, listing=listing, plan_slug="large")
    assert op is None and purchase.state == PurchaseRequest.State.PENDING
    for admin in (owner, second_admin, quiet_admin):  # inbox: every admin
        assert Notification.objects.filter(user=admin, url=purchase.get_absolute_url()).exists()

    sent = by_recipient(mail_worker.wait_for(2))
    assert set(sent) == {"owner@example.com", "treasurer@example.com"}  # email: the admins who want it
    for message in sent.values():
        assert message["Subject"] == "[Servicebay] teammate asks to spend 150.00 USD/month on Managed Postgres"
        body = message.get_content()
        assert "above Acme Corp's self-approval limit" in body
        assert f"http://testserver{purchase.get_absolute_url()}" in body

    # The decision reaches the requester by email too; the worker then pays (no provider) and says so.
    services.approve_purchase(actor=owner, purchase=purchase, comment="ok for Q3")
    sent = mail_worker.wait_for(4)
    to_requester = [m for _, to, m in sent if to == ["teammate@example.com"]]
    subjects = sorted(m["Subject"] for m in to_requester)
    assert subjects == [
        "[Servicebay] Approved: New plan: Managed Postgres Large",
        "[Servicebay] Purchase paid: Managed Postgres Large",
    ]
    purchase.refresh_from_db()
    assert purchase.state == PurchaseRequest.State.PAID and not purchase.charged
