"""Demo data: two orgs, an admin, two developers in different teams, and an outsider.

Idempotent: running it again changes nothing and prints the same logins.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from portal import audit
from portal.models import Membership, Organization, Profile, Role, Team

DEMO_PASSWORD = "servicebay-demo"
USERS = [
    # username, email, org, role, team
    ("alice", "alice@acme.example", "acme", Role.ADMIN, "platform"),
    ("bob", "bob@acme.example", "acme", Role.DEVELOPER, "chat"),
    ("carol", "carol@acme.example", "acme", Role.DEVELOPER, "support"),
    ("oscar", "oscar@globex.example", "globex", Role.ADMIN, "data"),
]
ORGS = {"acme": "Acme Corp", "globex": "Globex Databases"}
TEAMS = {
    "platform": ("acme", "Platform", "Runs shared infrastructure"),
    "chat": ("acme", "Chat", "Builds the chat app"),
    "support": ("acme", "Customer Support", "Call-center tooling"),
    "data": ("globex", "Data Services", "Managed databases"),
}


class Command(BaseCommand):
    help = "Load the demo organizations and users (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        orgs = {
            slug: Organization.objects.get_or_create(slug=slug, defaults={"name": name})[0]
            for slug, name in ORGS.items()
        }
        teams = {
            slug: Team.objects.get_or_create(org=orgs[org], slug=slug, defaults={"name": name, "description": desc})[0]
            for slug, (org, name, desc) in TEAMS.items()
        }
        for username, email, org, role, team in USERS:
            user, created = User.objects.get_or_create(username=username, defaults={"email": email})
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            membership, new = Membership.objects.get_or_create(org=orgs[org], user=user, defaults={"role": role})
            membership.teams.add(teams[team])
            Profile.objects.get_or_create(user=user, defaults={"current_org": orgs[org]})
            if new:
                audit.record(
                    actor=None,
                    actor_repr="demo data",
                    action="member.add",
                    org=orgs[org],
                    target=membership,
                    changes={"user": username, "role": role},
                    via="system",
                )
        # bob also belongs to Globex as a viewer, to show switching organizations.
        bob = User.objects.get(username="bob")
        Membership.objects.get_or_create(org=orgs["globex"], user=bob, defaults={"role": Role.VIEWER})
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for username, _, org, role, team in USERS:
            self.stdout.write(f"  {username:<6} {role:<9} in {ORGS[org]} (team {TEAMS[team][1]})")
        self.stdout.write("  bob is also a viewer in Globex Databases (switch orgs in the top bar)")
        self.stdout.write("  oscar is an outsider to Acme Corp")
