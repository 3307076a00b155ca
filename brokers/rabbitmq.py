"""An example vendor broker (OSB API, on openbrokerapi) selling RabbitMQ virtual hosts.

    BROKER_USERNAME=u BROKER_PASSWORD=p python -m brokers.rabbitmq --port 8602

* Provision creates a vhost (plans ``small``/``large`` set its ``max-connections`` limit), bind creates
  a user with full permissions on that vhost only and returns an AMQP URI
  (``amqp://user:pw@127.0.0.1:5672/<vhost>``), unbind deletes the user, deprovision deletes the vhost
  (and any user still bound to it). All synchronous by default: RabbitMQ answers these in
  milliseconds. With ``--async-provision`` (and ``accepts_incomplete=true``) provision answers 202 and
  creates the vhost in a background thread (after ``--work-delay`` seconds); ``last_operation`` reports
  the instance record's state (``provisioning`` → in progress, ``ready`` → succeeded, ``failed``).
* It drives RabbitMQ through the management plugin's HTTP API (``--management-url``, admin user from
  ``--admin-user``/``--admin-password``), not ``rabbitmqctl``: every call is a fast, idempotent HTTP
  request with a real status code (``rabbitmqctl`` starts an Erlang VM per call — about a second — and
  needs the node's Erlang cookie, i.e. to run as root or the rabbitmq user on the same machine).
* State survives restarts because it lives in RabbitMQ itself: one global parameter per instance and
  per binding (``servicebay-broker.instance.<id>``, ``servicebay-broker.binding.<id>``) and one for the
  broker's secret, from which each binding's password is derived (nothing else is stored).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import threading
import time
from typing import Any
from urllib.parse import quote

import httpx
from openbrokerapi import errors as obe
from openbrokerapi.catalog import Schemas, ServiceMetadata, ServicePlan, ServicePlanMetadata
from openbrokerapi.service_broker import (
    BindDetails,
    Binding,
    BindState,
    DeprovisionDetails,
    DeprovisionServiceSpec,
    GetBindingSpec,
    GetInstanceDetailsSpec,
    LastOperation,
    OperationState,
    ProvisionDetails,
    ProvisionedServiceSpec,
    ProvisionState,
    Service,
    ServiceBroker,
    UnbindDetails,
    UnbindSpec,
    UpdateDetails,
    UpdateServiceSpec,
)

from brokers import common
from brokers.common import abort_error

log = logging.getLogger("brokers.rabbitmq")

SERVICE_ID = "9b1d2c3e-8a7f-4e5d-b6c7-0a1b2c3d4e5f"
PLANS = {
    "9b1d2c3e-0001-4e5d-b6c7-0a1b2c3d4e5f": ("small", 10),
    "9b1d2c3e-0002-4e5d-b6c7-0a1b2c3d4e5f": ("large", 100),
}
PREFIX = "servicebay-broker"
EMPTY_SCHEMA = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "additionalProperties": False}
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RabbitAdmin:
    """The few management API calls the broker needs."""

    def __init__(self, url: str, username: str, password: str, timeout: float = 10.0):
        self.http = httpx.Client(base_url=url.rstrip("/") + "/api", auth=(username, password), timeout=timeout)

    def _call(self, method: str, path: str, json: Any = None, *, missing_ok: bool = False) -> httpx.Response:
        response = self.http.request(method, path, json=json)
        if response.status_code == 404 and missing_ok:
            return response
        response.raise_for_status()
        return response

    def get(self, path: str) -> Any | None:
        response = self._call("GET", path, missing_ok=True)
        return None if response.status_code == 404 else response.json()

    def put(self, path: str, body: dict[str, Any]) -> None:
        self._call("PUT", path, body)

    def delete(self, path: str) -> None:
        self._call("DELETE", path, missing_ok=True)

    def close_connections(self, user: str) -> None:
        for connection in self.get("/connections") or []:
            if connection.get("user") == user:
                self.http.request(
                    "DELETE", f"/connections/{q(connection['name'])}", headers={"X-Reason": "binding deleted"}
                )

    # global parameters as a small key-value store
    def param(self, name: str) -> dict[str, Any] | None:
        found = self.get(f"/global-parameters/{q(name)}")
        return found["value"] if found else None

    def set_param(self, name: str, value: Any) -> None:
        self.put(f"/global-parameters/{q(name)}", {"name": name, "value": value})

    def delete_param(self, name: str) -> None:
        self.delete(f"/global-parameters/{q(name)}")

    def params(self, prefix: str) -> list[dict[str, Any]]:
        return [p for p in self.get("/global-parameters") or [] if p["name"].startswith(prefix)]


def q(segment: str) -> str:
    return quote(segment, safe="")


def resource_name(prefix: str, some_id: str) -> str:
    """Readable when the id is (GUIDs are), hashed otherwise."""
    return f"{prefix}-{some_id}" if _SAFE_ID.match(some_id) else common.short_name(f"{prefix}-", some_id)


class RabbitBroker(ServiceBroker):
    def __init__(
        self,
        admin: RabbitAdmin,
        *,
        amqp_host: str = "127.0.0.1",
        amqp_port: int = 5672,
        maintenance_version: str = "3.10.0",
        secret: str | None = None,
        async_provision: bool = False,
        work_delay: float = 0.0,
    ):
        self.admin = admin
        self.async_provision, self.work_delay = async_provision, work_delay
        self.amqp_host, self.amqp_port = amqp_host, amqp_port
        self.maintenance_version = maintenance_version
        self.secret = secret or self._secret()
        self._working: set[str] = set()  # keys whose vhost a thread of this process is creating
        self._lock = threading.Lock()

    def _secret(self) -> str:
        name = f"{PREFIX}.secret"
        if self.admin.param(name) is None:
            self.admin.set_param(name, {"secret": secrets.token_urlsafe(32)})
        return self.admin.param(name)["secret"]

    # -- catalog -------------------------------------------------------------------------------

    def catalog(self) -> Service:
        schemas = Schemas(
            service_instance={"create": {"parameters": EMPTY_SCHEMA}, "update": {"parameters": EMPTY_SCHEMA}},
            service_binding={"create": {"parameters": EMPTY_SCHEMA}},
        )
        plans = [
            ServicePlan(
                id=plan_id,
                name=name,
                description=f"A RabbitMQ virtual host, at most {limit} connections",
                metadata=ServicePlanMetadata(displayName=f"RabbitMQ {name}", max_connections=limit),
                free=True,
                bindable=True,
                plan_updateable=True,
                schemas=schemas,
                maintenance_info={"version": self.maintenance_version},
            )
            for plan_id, (name, limit) in PLANS.items()
        ]
        return Service(
            id=SERVICE_ID,
            name="rabbitmq",
            description="A RabbitMQ virtual host on a shared broker",
            bindable=True,
            plans=plans,
            tags=["rabbitmq", "amqp", "messaging"],
            metadata=ServiceMetadata(displayName="RabbitMQ", providerDisplayName="Servicebay example broker"),
            plan_updateable=True,
            instances_retrievable=True,
            bindings_retrievable=True,
        )

    def _check(self, service_id: str, plan_id: str, parameters: dict | None) -> None:
        if service_id != SERVICE_ID:
            raise obe.ErrBadRequest(f"unknown service_id {service_id!r}")
        if plan_id not in PLANS:
            raise obe.ErrBadRequest(f"unknown plan_id {plan_id!r}")
        if parameters:
            raise obe.ErrInvalidParameters("this service takes no parameters")

    def _limit(self, vhost: str, plan_id: str) -> None:
        self.admin.put(f"/vhost-limits/{q(vhost)}/max-connections", {"value": PLANS[plan_id][1]})

    # -- instances -----------------------------------------------------------------------------

    def provision(self, instance_id: str, details: ProvisionDetails, async_allowed: bool, **kwargs):
        self._check(details.service_id, details.plan_id, details.parameters)
        common.check_maintenance_info(self.maintenance_version)
        key = f"{PREFIX}.instance.{instance_id}"
        existing = self.admin.param(key)
        if existing is not None:
            if (existing["service_id"], existing["plan_id"]) != (details.service_id, details.plan_id):
                raise obe.ErrInstanceAlreadyExists()
            if existing.get("state") == "ready":
                return ProvisionedServiceSpec(ProvisionState.IDENTICAL_ALREADY_EXISTS)
            if existing.get("state") == "provisioning" and self.async_provision and async_allowed:
                self._resume(key, existing)  # a broker restarted mid-provision picks the work up again
                return ProvisionedServiceSpec(ProvisionState.IS_ASYNC, operation="provision")  # still at work
        vhost = resource_name("sbi", instance_id)
        record = {"service_id": details.service_id, "plan_id": details.plan_id, "vhost": vhost}
        # Record first, then create: a crash in between leaves a record that deprovision can clean up.
        self.admin.set_param(key, {**record, "state": "provisioning"})
        if self.async_provision and async_allowed:
            self._resume(key, record)
            return ProvisionedServiceSpec(ProvisionState.IS_ASYNC, operation="provision")
        self._create_vhost(key, record)
        return ProvisionedServiceSpec(ProvisionState.SUCCESSFUL_CREATED)

    def _resume(self, key: str, record: dict[str, Any]) -> None:
        """Create the vhost in a thread unless one of this process is already at it (creating a vhost and
        setting its limit are idempotent, so work a previous process left half-done is simply redone)."""
        record = {k: record[k] for k in ("service_id", "plan_id", "vhost")}
        with self._lock:
            if key in self._working:
                return
            self._working.add(key)
        threading.Thread(target=self._create_vhost, args=(key, record, True), name=key, daemon=True).start()

    def _create_vhost(self, key: str, record: dict[str, Any], background: bool = False) -> None:
        vhost = record["vhost"]
        try:
            if background and self.work_delay:
                time.sleep(self.work_delay)
            description = f"Service Instance {key.rsplit('.', 1)[-1]}"
            self.admin.put(f"/vhosts/{q(vhost)}", {"description": description, "tags": "servicebay"})
            self._limit(vhost, record["plan_id"])
            self.admin.set_param(key, {**record, "state": "ready"})
        except Exception as exc:  # in a thread: any failure must end in a state the platform can see
            if not background:
                raise
            log.warning("provisioning %s failed: %s", vhost, exc)
            try:
                self.admin.set_param(key, {**record, "state": "failed", "description": f"RabbitMQ refused: {exc}"})
            except Exception:  # RabbitMQ itself is gone: the next poll resumes the work
                log.exception("could not record the failure of %s", vhost)
            return
        finally:
            if background:
                with self._lock:
                    self._working.discard(key)

    def last_operation(self, instance_id: str, operation_data: str | None, **kwargs) -> LastOperation:
        instance = self._instance(instance_id)
        if instance is None:
            raise obe.ErrInstanceDoesNotExist()  # 410: never created, or deprovisioned
        state = instance.get("state")
        if state == "ready":
            return LastOperation(OperationState.SUCCEEDED, "The virtual host is ready")
        if state == "failed":
            return LastOperation(OperationState.FAILED, instance.get("description") or "provisioning failed")
        if self.async_provision:
            self._resume(f"{PREFIX}.instance.{instance_id}", instance)  # no-op while a thread is at it
        return LastOperation(OperationState.IN_PROGRESS, "Creating the virtual host")

    def _instance(self, instance_id: str) -> dict[str, Any] | None:
        return self.admin.param(f"{PREFIX}.instance.{instance_id}")

    def update(self, instance_id: str, details: UpdateDetails, async_allowed: bool, **kwargs):
        common.check_maintenance_info(self.maintenance_version)
        instance = self._instance(instance_id)
        if instance is None:
            abort_error(422, f"The Service Instance {instance_id} does not exist.")
        plan_id = details.plan_id or instance["plan_id"]
        self._check(details.service_id, plan_id, details.parameters)
        if plan_id != instance["plan_id"]:
            self._limit(instance["vhost"], plan_id)
            self.admin.set_param(f"{PREFIX}.instance.{instance_id}", {**instance, "plan_id": plan_id})
        return UpdateServiceSpec(is_async=False)

    def deprovision(self, instance_id: str, details: DeprovisionDetails, async_allowed: bool, **kwargs):
        instance = self._instance(instance_id)
        if instance is None:
            raise obe.ErrInstanceDoesNotExist()
        for binding in self.admin.params(f"{PREFIX}.binding."):
            if binding["value"]["instance_id"] == instance_id:  # the platform should have unbound first
                self.admin.delete(f"/users/{q(binding['value']['user'])}")
                self.admin.delete_param(binding["name"])
        self.admin.delete(f"/vhosts/{q(instance['vhost'])}")
        self.admin.delete_param(f"{PREFIX}.instance.{instance_id}")
        return DeprovisionServiceSpec(is_async=False)

    def get_instance(self, instance_id: str, **kwargs) -> GetInstanceDetailsSpec:
        instance = self._instance(instance_id)
        if instance is None or instance.get("state") != "ready":
            raise obe.ErrInstanceDoesNotExist()
        return GetInstanceDetailsSpec(instance["service_id"], instance["plan_id"], parameters={})

    # -- bindings ------------------------------------------------------------------------------

    def bind(self, instance_id: str, binding_id: str, details: BindDetails, async_allowed: bool, **kwargs) -> Binding:
        self._check(details.service_id, details.plan_id, details.parameters)
        instance = self._instance(instance_id)
        if instance is None or instance.get("state") != "ready":
            abort_error(422, f"The Service Instance {instance_id} does not exist.")
        key = f"{PREFIX}.binding.{binding_id}"
        existing = self.admin.param(key)
        if existing is not None and existing["instance_id"] != instance_id:
            raise obe.ErrBindingAlreadyExists()
        user = resource_name("sbb", binding_id)
        password = common.binding_password(self.secret, binding_id)
        self.admin.set_param(key, {"instance_id": instance_id, "user": user})
        self.admin.put(f"/users/{q(user)}", {"password": password, "tags": ""})
        self.admin.put(
            f"/permissions/{q(instance['vhost'])}/{q(user)}", {"configure": ".*", "write": ".*", "read": ".*"}
        )
        state = BindState.IDENTICAL_ALREADY_EXISTS if existing is not None else BindState.SUCCESSFUL_BOUND
        return Binding(state, credentials=self._credentials(instance["vhost"], user, password))

    def _credentials(self, vhost: str, user: str, password: str) -> dict[str, Any]:
        host, port = self.amqp_host, self.amqp_port
        return {
            "uri": f"amqp://{q(user)}:{q(password)}@{host}:{port}/{q(vhost)}",
            "host": host,
            "port": port,
            "vhost": vhost,
            "username": user,
            "password": password,
        }

    def unbind(self, instance_id: str, binding_id: str, details: UnbindDetails, async_allowed: bool, **kwargs):
        key = f"{PREFIX}.binding.{binding_id}"
        binding = self.admin.param(key)
        if binding is None or binding["instance_id"] != instance_id:
            raise obe.ErrBindingDoesNotExist()
        self.admin.delete(f"/users/{q(binding['user'])}")
        self.admin.close_connections(binding["user"])  # revoke now, not at the next reconnect
        self.admin.delete_param(key)
        return UnbindSpec(is_async=False)

    def get_binding(self, instance_id: str, binding_id: str, **kwargs) -> GetBindingSpec:
        binding = self.admin.param(f"{PREFIX}.binding.{binding_id}")
        instance = self._instance(instance_id)
        if binding is None or instance is None or binding["instance_id"] != instance_id:
            raise obe.ErrBindingDoesNotExist()
        password = common.binding_password(self.secret, binding_id)
        return GetBindingSpec(credentials=self._credentials(instance["vhost"], binding["user"], password))


def main(argv: list[str] | None = None) -> None:
    env = os.environ.get
    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--management-url", default=env("RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672"))
    parser.add_argument("--admin-user", default=env("RABBITMQ_ADMIN_USER", "servicebay"))
    parser.add_argument("--admin-password", default=env("RABBITMQ_ADMIN_PASSWORD", "servicebay"))
    parser.add_argument("--amqp-host", default=env("RABBITMQ_AMQP_HOST", "127.0.0.1"))
    parser.add_argument("--amqp-port", type=int, default=int(env("RABBITMQ_AMQP_PORT", "5672")))
    parser.add_argument("--maintenance-version", default=env("RABBITMQ_BROKER_MAINTENANCE_VERSION", "3.10.0"))
    parser.add_argument("--async-provision", action="store_true", help="provision answers 202 and works in a thread")
    parser.add_argument("--work-delay", type=float, default=0.0, help="seconds an async provision waits (demos, tests)")
    args = parser.parse_args(argv)
    common.check_credentials(parser, args)
    common.setup_logging(args.log_level)
    admin = RabbitAdmin(args.management_url, args.admin_user, args.admin_password)
    broker = RabbitBroker(
        admin,
        amqp_host=args.amqp_host,
        amqp_port=args.amqp_port,
        maintenance_version=args.maintenance_version,
        async_provision=args.async_provision,
        work_delay=args.work_delay,
    )
    common.serve(common.make_app(broker, args.username, args.password), args.port)


if __name__ == "__main__":
    main()
