"""The baseline of bench_osb_server.py: an openbrokerapi broker (the vendor-broker stack of brokers/)
serving the same catalog as Servicebay (read from $OSB_BASELINE_CATALOG, a JSON file) and accepting
provision requests asynchronously. Served by gunicorn: ``gunicorn bench.osb_baseline:app``.

It keeps no state (a provision is "accepted" at once): the bench measures the HTTP/OSB stack, and
says so next to its numbers.
"""

from __future__ import annotations

import json
import os
import uuid

from openbrokerapi.catalog import Schemas, ServicePlan
from openbrokerapi.service_broker import ProvisionedServiceSpec, ProvisionState, Service, ServiceBroker

from brokers.common import make_app


def _services(data: dict) -> list[Service]:
    services = []
    for s in data["services"]:
        plans = [
            ServicePlan(
                id=p["id"],
                name=p["name"],
                description=p["description"],
                metadata=p.get("metadata"),
                free=p.get("free", True),
                bindable=p.get("bindable"),
                schemas=Schemas(**p["schemas"]) if p.get("schemas") else None,
                maintenance_info=p.get("maintenance_info"),
            )
            for p in s["plans"]
        ]
        services.append(
            Service(
                id=s["id"],
                name=s["name"],
                description=s["description"],
                bindable=s["bindable"],
                plans=plans,
                tags=s.get("tags"),
                metadata=s.get("metadata"),
                plan_updateable=s.get("plan_updateable", False),
                instances_retrievable=s.get("instances_retrievable", False),
                bindings_retrievable=s.get("bindings_retrievable", False),
            )
        )
    return services


class BaselineBroker(ServiceBroker):
    def __init__(self, services: list[Service]):
        self.services = services

    def catalog(self) -> list[Service]:
        return self.services

    def provision(self, instance_id, details, async_allowed, **kwargs):
        return ProvisionedServiceSpec(ProvisionState.IS_ASYNC, operation=str(uuid.uuid4()))


with open(os.environ["OSB_BASELINE_CATALOG"]) as fh:
    _catalog = json.load(fh)
app = make_app(BaselineBroker(_services(_catalog)), os.environ["BROKER_USERNAME"], os.environ["BROKER_PASSWORD"])
