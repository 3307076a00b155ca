"""Demo brokers: register the example brokers whose backing service is available here.

The RabbitMQ broker belongs to Acme's Platform team ("a RabbitMQ someone else runs", scenario 1),
the PostgreSQL broker to the vendor Globex Databases. ``make run`` serves them (``brokers`` in the
Procfile, ``python -m brokers.demo serve``); their first sync runs once the worker and the broker
are up (and retries until then). Idempotent: a broker already registered is left as it is.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from brokers import demo
from catalog.brokers import register_broker
from catalog.models import Broker
from portal.models import Organization, Team

OWNERS = {"rabbitmq": ("acme", "platform", "alice"), "postgres": ("globex", "data", "oscar")}


class Command(BaseCommand):
    help = "Register the example OSB brokers whose backing service answers (idempotent; run seed_demo first)."

    def handle(self, *args, **options):
        username, password = demo.credentials()
        reasons = demo.availability()
        for broker in demo.BROKERS:
            if reasons[broker.name]:
                self.stdout.write(f"Demo broker {broker.name}: off, {reasons[broker.name]}")
                continue
            if Broker.objects.filter(name=broker.name).exists():
                self.stdout.write(f"Demo broker {broker.name}: registered ({broker.url})")
                continue
            org_slug, team_slug, admin = OWNERS[broker.name]
            org = Organization.objects.filter(slug=org_slug).first()
            team = Team.objects.filter(org=org, slug=team_slug).first()
            actor = get_user_model().objects.filter(username=admin).first()
            if org is None or team is None or actor is None:
                raise CommandError("Run `manage.py seed_demo` first (it makes the orgs, teams and admins).")
            register_broker(
                actor=actor,
                org=org,
                name=broker.name,
                url=broker.url,
                username=username,
                secret=password,
                owner_team=team,
                via="system",
            )
            self.stdout.write(f"Demo broker {broker.name}: registered for {org.name} ({broker.url}); syncing")
