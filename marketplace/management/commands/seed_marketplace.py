"""Demo marketplace: Globex Databases lists "Managed Postgres" (idempotent; run seed_demo first)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from catalog import services as catalog_services
from catalog.models import Plan, ServiceType, TypeVersion
from marketplace import services
from marketplace.demo import PG_DESCRIPTION, PG_MANIFESTS, PG_OUTPUTS, PG_PLANS, PG_PRICES, PG_SCHEMA
from marketplace.models import Listing
from portal import operations
from portal.models import Organization, Team


class Command(BaseCommand):
    help = "Load the demo listing 'Managed Postgres' by Globex Databases (idempotent; run seed_demo first)."

    def handle(self, *args, **options):
        org = Organization.objects.filter(slug="globex").first()
        team = Team.objects.filter(org=org, slug="data").first() if org else None
        vendor = get_user_model().objects.filter(username="oscar").first()
        if org is None or team is None or vendor is None:
            raise CommandError("Run `manage.py seed_demo` first (it makes Globex, team data and oscar).")
        with transaction.atomic():
            type_ = ServiceType.objects.filter(slug="managed-postgres").first()
            if type_ is None:
                type_ = catalog_services.create_type(
                    actor=vendor,
                    org=org,
                    owner_team=team,
                    slug="managed-postgres",
                    name="Managed Postgres",
                    description="PostgreSQL managed by Globex Databases.",
                    icon="database",
                    tags=["database", "postgresql"],
                    visibility="org",
                    via="system",
                )
            version = TypeVersion.objects.filter(type=type_, version="1.0.0").first()
            if version is None:
                version = catalog_services.create_version(
                    actor=vendor,
                    type_=type_,
                    version="1.0.0",
                    manifests_template=PG_MANIFESTS,
                    parameter_schema=PG_SCHEMA,
                    outputs=PG_OUTPUTS,
                    changelog="First version.",
                    via="system",
                )
            for spec in PG_PLANS:
                if not Plan.objects.filter(type=type_, slug=spec["slug"]).exists():
                    catalog_services.create_plan(actor=vendor, type_=type_, via="system", **spec)
            if version.state == TypeVersion.State.DRAFT:
                catalog_services.publish_version(actor=vendor, version=version, via="system")
            listing = Listing.objects.filter(service_type=type_).first()
            if listing is None:
                listing = services.create_listing(
                    actor=vendor,
                    org=org,
                    service_type=type_,
                    summary="PostgreSQL run by Globex's DBAs: backups, failover, sharding.",
                    description=PG_DESCRIPTION,
                    categories=["database", "postgresql"],
                    documentation_url="https://docs.globex.example/postgres",
                    terms="Billed monthly. Cancel any time; deprovisioning ends the subscription at period end.",
                    prices=PG_PRICES,
                    via="system",
                )
            op = None
            if listing.state != Listing.State.LISTED:
                op = services.publish_listing(actor=vendor, listing=listing, via="system")
        if op is not None:
            operations.execute(op.pk)  # publish now (no worker runs during `make demo`)
        self.stdout.write("Demo marketplace: Managed Postgres by Globex (hobby free, small 25, large 150 USD/month)")
        self.stdout.write("  try: log in as bob, Marketplace → Managed Postgres → Buy large (alice approves)")
