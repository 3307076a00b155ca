"""Demo catalog data: the "chat" type owned by team chat in Acme (published 1.0.0, plans small and large).

Idempotent: run after ``seed_demo``; running it again changes nothing.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from catalog import services
from catalog.demo import CHAT_BINDING, CHAT_MANIFESTS, CHAT_OUTPUTS, CHAT_PLANS, CHAT_SCHEMA
from catalog.models import Plan, ServiceType, TypeVersion
from portal.models import Organization, Team


class Command(BaseCommand):
    help = "Load the demo service type 'chat' into Acme's catalog (idempotent; run seed_demo first)."

    @transaction.atomic
    def handle(self, *args, **options):
        org = Organization.objects.filter(slug="acme").first()
        team = Team.objects.filter(org=org, slug="chat").first() if org else None
        author = get_user_model().objects.filter(username="bob").first()
        if org is None or team is None or author is None:
            raise CommandError("Run `manage.py seed_demo` first (it makes Acme, team chat and bob).")
        type_ = ServiceType.objects.filter(slug="chat").first()
        if type_ is None:
            type_ = services.create_type(
                actor=author,
                org=org,
                owner_team=team,
                slug="chat",
                name="Chat",
                description="The company chat: a Node.js chat server with an admin account, behind a Service.",
                icon="chat-dots",
                tags=["chat", "nodejs", "websocket"],
                visibility="org",
                via="system",
            )
        version = TypeVersion.objects.filter(type=type_, version="1.0.0").first()
        if version is None:
            version = services.create_version(
                actor=author,
                type_=type_,
                version="1.0.0",
                manifests_template=CHAT_MANIFESTS,
                parameter_schema=CHAT_SCHEMA,
                outputs=CHAT_OUTPUTS,
                binding_template=CHAT_BINDING,
                changelog="First version: chat server, admin secret and Service.",
                via="system",
            )
        for spec in CHAT_PLANS:
            if not Plan.objects.filter(type=type_, slug=spec["slug"]).exists():
                services.create_plan(actor=author, type_=type_, via="system", **spec)
        if version.state == TypeVersion.State.DRAFT:
            version.type = type_
            services.publish_version(actor=author, version=version, via="system")
        self.stdout.write("Demo catalog: type chat 1.0.0 (plans small, large), owned by team Chat in Acme Corp")
        self.stdout.write("  try: sbay types get chat    sbay provision chat my-chat --plan small -p admin_password=…")
