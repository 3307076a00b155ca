"""An example vendor broker (OSB API, on openbrokerapi) selling PostgreSQL databases.

    BROKER_USERNAME=u BROKER_PASSWORD=p python -m brokers.postgres --port 8601 \\
        --admin-dsn postgresql://servicebay:servicebay@127.0.0.1:5432/servicebay

* Plans ``small`` and ``large`` differ in the database's ``CONNECTION LIMIT``; both carry
  ``maintenance_info`` (``--maintenance-version``, default 15.0.0) and are plan-updateable.
* Provision is asynchronous (202, then ``last_operation``): a background thread creates the database,
  owned by a per-instance NOLOGIN role, with ``CONNECT`` revoked from ``PUBLIC``.
* Bind creates a LOGIN role in the owner role (its objects are owned by the owner role, so every binding
  sees the same tables) and returns ``credentials`` {uri, host, port, database, username, password}.
  Unbind ends its sessions and drops it. Deprovision (asynchronous too) terminates connections and
  drops the database and the roles.
* Update to another plan changes the connection limit; an update with the catalog's
  ``maintenance_info`` upgrades the instance's recorded version.
* The broker keeps its state — instances, bindings, operations, its secret — in the backing PostgreSQL
  itself (schema ``broker_state``, ``--state-schema``), so a restarted broker knows everything and
  resumes operations that a dead process left "in progress" (each runs under an advisory lock, and
  every step is idempotent).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
import uuid
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import psycopg
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
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from brokers import common
from brokers.common import abort_error

log = logging.getLogger("brokers.postgres")

SERVICE_ID = "3f0c7a0e-6f3b-4c1e-9a51-5e2b1f0d7a11"
DEFAULT_ADMIN_DSN = "postgresql://servicebay:servicebay@127.0.0.1:5432/servicebay"
ENCODINGS = ("UTF8", "LATIN1", "SQL_ASCII")


@dataclass(frozen=True)
class PlanSpec:
    id: str
    name: str
    connection_limit: int
    description: str


PLANS = {
    "small": PlanSpec("3f0c7a0e-0001-4c1e-9a51-5e2b1f0d7a11", "small", 5, "A database, at most 5 connections"),
    "large": PlanSpec("3f0c7a0e-0002-4c1e-9a51-5e2b1f0d7a11", "large", 20, "A database, at most 20 connections"),
}
PLANS_BY_ID = {p.id: p for p in PLANS.values()}

PARAMETERS_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "additionalProperties": False,
    "properties": {"encoding": {"type": "string", "enum": list(ENCODINGS), "default": "UTF8"}},
}
UPDATE_SCHEMA = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "additionalProperties": False}
BINDING_SCHEMA = UPDATE_SCHEMA

STATE_TABLES = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.settings (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS {schema}.instances (
    instance_id text PRIMARY KEY,
    service_id text NOT NULL,
    plan_id text NOT NULL,
    database_name text NOT NULL UNIQUE,
    owner_role text NOT NULL,
    parameters jsonb NOT NULL DEFAULT '{{}}',
    context jsonb NOT NULL DEFAULT '{{}}',
    maintenance_version text,
    state text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {schema}.operations (
    id text PRIMARY KEY,
    instance_id text NOT NULL,
    kind text NOT NULL,
    state text NOT NULL,
    description text,
    target_plan_id text,
    target_version text,
    instance_usable boolean,
    update_repeatable boolean,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS operations_instance ON {schema}.operations (instance_id, created_at);
CREATE TABLE IF NOT EXISTS {schema}.bindings (
    binding_id text PRIMARY KEY,
    instance_id text NOT NULL,
    role_name text NOT NULL UNIQUE,
    parameters jsonb NOT NULL DEFAULT '{{}}',
    created_at timestamptz NOT NULL DEFAULT now()
);
"""

IN_PROGRESS, SUCCEEDED, FAILED = "in progress", "succeeded", "failed"
_SELECT_INSTANCE = "SELECT * FROM {s}.instances WHERE instance_id = %s"


class PostgresBroker(ServiceBroker):
    def __init__(
        self,
        admin_dsn: str = DEFAULT_ADMIN_DSN,
        *,
        state_schema: str = "broker_state",
        public_host: str | None = None,
        public_port: int | None = None,
        maintenance_version: str = "15.0.0",
        secret: str | None = None,
        work_delay: float = 0.0,
    ):
        self.admin_dsn = admin_dsn
        self.schema = sql.Identifier(state_schema)
        self.state_schema = state_schema
        dsn = conninfo_to_dict(admin_dsn)
        self.public_host = public_host or dsn.get("host") or "127.0.0.1"
        self.public_port = int(public_port or dsn.get("port") or 5432)
        self.maintenance_version = maintenance_version
        self.work_delay = work_delay
        self._init_state()
        self.secret = secret or self._setting("secret", lambda: secrets.token_urlsafe(32))

    # -- state in PostgreSQL -------------------------------------------------------------------

    @contextmanager
    def _db(self, dbname: str | None = None, *, autocommit: bool = False):
        dsn = make_conninfo(self.admin_dsn, dbname=dbname) if dbname else self.admin_dsn
        with psycopg.connect(dsn, autocommit=autocommit, row_factory=dict_row, connect_timeout=10) as conn:
            yield conn

    def _q(self, query: str) -> sql.Composed:
        return sql.SQL(query).format(s=self.schema)

    def _init_state(self) -> None:
        with self._db() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(self.state_schema.encode()),))
            conn.execute(sql.SQL(STATE_TABLES).format(schema=self.schema))

    def _setting(self, key: str, default) -> str:
        with self._db() as conn:
            value = default()
            conn.execute(self._q("INSERT INTO {s}.settings VALUES (%s, %s) ON CONFLICT DO NOTHING"), (key, value))
            return conn.execute(self._q("SELECT value FROM {s}.settings WHERE key = %s"), (key,)).fetchone()["value"]

    def _instance(self, conn, instance_id: str, *, lock: bool = False) -> dict | None:
        query = "SELECT * FROM {s}.instances WHERE instance_id = %s FOR UPDATE" if lock else _SELECT_INSTANCE
        return conn.execute(self._q(query), (instance_id,)).fetchone()

    def _running_operation(self, conn, instance_id: str) -> dict | None:
        return conn.execute(
            self._q("SELECT * FROM {s}.operations WHERE instance_id = %s AND state = %s ORDER BY created_at DESC"),
            (instance_id, IN_PROGRESS),
        ).fetchone()

    def _new_operation(self, conn, instance_id: str, kind: str, **targets) -> str:
        op_id = f"{kind}-{uuid.uuid4()}"
        conn.execute(
            self._q(
                "INSERT INTO {s}.operations (id, instance_id, kind, state, target_plan_id, target_version)"
                " VALUES (%s, %s, %s, %s, %s, %s)"
            ),
            (op_id, instance_id, kind, IN_PROGRESS, targets.get("plan_id"), targets.get("version")),
        )
        return op_id

    # -- catalog -------------------------------------------------------------------------------

    def catalog(self) -> Service:
        schemas = Schemas(
            service_instance={"create": {"parameters": PARAMETERS_SCHEMA}, "update": {"parameters": UPDATE_SCHEMA}},
            service_binding={"create": {"parameters": BINDING_SCHEMA}},
        )
        plans = [
            ServicePlan(
                id=plan.id,
                name=plan.name,
                description=plan.description,
                metadata=ServicePlanMetadata(
                    displayName=f"PostgreSQL {plan.name}", connection_limit=plan.connection_limit
                ),
                free=True,
                bindable=True,
                plan_updateable=True,
                schemas=schemas,
                maximum_polling_duration=600,
                maintenance_info={
                    "version": self.maintenance_version,
                    "description": f"PostgreSQL databases, maintenance level {self.maintenance_version}",
                },
            )
            for plan in PLANS.values()
        ]
        return Service(
            id=SERVICE_ID,
            name="postgresql",
            description="A PostgreSQL database on a shared server",
            bindable=True,
            plans=plans,
            tags=["postgresql", "sql", "relational"],
            metadata=ServiceMetadata(displayName="PostgreSQL", providerDisplayName="Servicebay example broker"),
            plan_updateable=True,
            instances_retrievable=True,
            bindings_retrievable=True,
            allow_context_updates=False,
        )

    # -- provision -----------------------------------------------------------------------------

    def provision(self, instance_id: str, details: ProvisionDetails, async_allowed: bool, **kwargs):
        plan = self._plan(details.service_id, details.plan_id)
        version = common.check_maintenance_info(self.maintenance_version)
        parameters = self._create_parameters(details.parameters)
        for _attempt in range(2):
            with self._db() as conn:
                existing = self._instance(conn, instance_id, lock=True)
                if existing is not None:
                    same = (existing["service_id"], existing["plan_id"], existing["parameters"]) == (
                        details.service_id,
                        plan.id,
                        parameters,
                    )
                    if not same or existing["state"] not in ("ready", "provisioning"):
                        raise obe.ErrInstanceAlreadyExists()
                    if existing["state"] == "ready":
                        return ProvisionedServiceSpec(ProvisionState.IDENTICAL_ALREADY_EXISTS)
                    running = self._running_operation(conn, instance_id)
                    return ProvisionedServiceSpec(ProvisionState.IS_ASYNC, operation=running and running["id"])
                if not async_allowed:
                    raise obe.ErrAsyncRequired()
                inserted = conn.execute(
                    self._q(
                        "INSERT INTO {s}.instances (instance_id, service_id, plan_id, database_name, owner_role,"
                        " parameters, context, maintenance_version, state)"
                        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'provisioning') ON CONFLICT DO NOTHING"
                    ),
                    (
                        instance_id,
                        details.service_id,
                        plan.id,
                        common.short_name("sbi_", instance_id),
                        common.short_name("sbo_", instance_id),
                        json.dumps(parameters),
                        json.dumps(details.context or {}),
                        version or self.maintenance_version,
                    ),
                ).rowcount
                if not inserted:  # a concurrent identical PUT won the race: answer like a repeated PUT
                    conn.rollback()
                    continue
                op_id = self._new_operation(conn, instance_id, "provision")
            self._start(op_id)
            return ProvisionedServiceSpec(ProvisionState.IS_ASYNC, operation=op_id)
        raise obe.ErrConcurrentInstanceAccess()

    def _plan(self, service_id: str, plan_id: str) -> PlanSpec:
        if service_id != SERVICE_ID:
            raise obe.ErrBadRequest(f"unknown service_id {service_id!r}")
        plan = PLANS_BY_ID.get(plan_id)
        if plan is None:
            raise obe.ErrBadRequest(f"unknown plan_id {plan_id!r}")
        return plan

    def _create_parameters(self, parameters: dict | None) -> dict:
        parameters = dict(parameters or {})
        unknown = sorted(set(parameters) - {"encoding"})
        if unknown:
            raise obe.ErrInvalidParameters(f"unknown parameters: {', '.join(unknown)}")
        encoding = parameters.get("encoding", "UTF8")
        if encoding not in ENCODINGS:
            raise obe.ErrInvalidParameters(f"encoding must be one of {', '.join(ENCODINGS)}")
        return {"encoding": encoding}

    # -- update --------------------------------------------------------------------------------

    def update(self, instance_id: str, details: UpdateDetails, async_allowed: bool, **kwargs):
        version = common.check_maintenance_info(self.maintenance_version)
        if details.parameters:
            abort_error(422, "Parameters cannot be changed after provisioning (the encoding is fixed).")
        with self._db() as conn:
            instance = self._instance(conn, instance_id, lock=True)
            if instance is None or instance["state"] == "deprovisioning":
                abort_error(422, f"The Service Instance {instance_id} does not exist.")
            if self._running_operation(conn, instance_id) is not None:
                raise obe.ErrConcurrentInstanceAccess()
            target = self._plan(details.service_id, details.plan_id or instance["plan_id"])
            upgrade = version is not None and version != instance["maintenance_version"]
            if target.id == instance["plan_id"] and not upgrade:
                return UpdateServiceSpec(is_async=False)  # 200: nothing to change
            op_id = self._new_operation(conn, instance_id, "update", plan_id=target.id, version=version)
            conn.execute(self._q("UPDATE {s}.instances SET state = 'updating' WHERE instance_id = %s"), (instance_id,))
        if async_allowed:
            self._start(op_id)
            return UpdateServiceSpec(is_async=True, operation=op_id)
        self._run(op_id)
        with self._db() as conn:
            op = conn.execute(self._q("SELECT * FROM {s}.operations WHERE id = %s"), (op_id,)).fetchone()
        if op["state"] != SUCCEEDED:
            abort_error(500, op["description"] or "The update failed.", instance_usable=True, update_repeatable=True)
        return UpdateServiceSpec(is_async=False)

    # -- deprovision ---------------------------------------------------------------------------

    def deprovision(self, instance_id: str, details: DeprovisionDetails, async_allowed: bool, **kwargs):
        with self._db() as conn:
            instance = self._instance(conn, instance_id, lock=True)
            if instance is None:
                raise obe.ErrInstanceDoesNotExist()
            running = self._running_operation(conn, instance_id)
            if running is not None:
                if running["kind"] == "deprovision":
                    return DeprovisionServiceSpec(is_async=True, operation=running["id"])
                raise obe.ErrConcurrentInstanceAccess()
            op_id = self._new_operation(conn, instance_id, "deprovision")
            conn.execute(
                self._q("UPDATE {s}.instances SET state = 'deprovisioning' WHERE instance_id = %s"), (instance_id,)
            )
        if async_allowed:
            self._start(op_id)
            return DeprovisionServiceSpec(is_async=True, operation=op_id)
        self._run(op_id)
        return DeprovisionServiceSpec(is_async=False)

    # -- last operation ------------------------------------------------------------------------

    def last_operation(self, instance_id: str, operation_data: str | None, **kwargs) -> LastOperation:
        with self._db() as conn:
            if operation_data:
                op = conn.execute(
                    self._q("SELECT * FROM {s}.operations WHERE id = %s AND instance_id = %s"),
                    (operation_data, instance_id),
                ).fetchone()
            else:
                op = conn.execute(
                    self._q("SELECT * FROM {s}.operations WHERE instance_id = %s ORDER BY created_at DESC LIMIT 1"),
                    (instance_id,),
                ).fetchone()
            exists = self._instance(conn, instance_id) is not None
        if op is None:
            if not exists:
                raise obe.ErrInstanceDoesNotExist()  # 410
            raise obe.ErrBadRequest(f"no operation {operation_data!r} for this instance")
        if op["kind"] == "deprovision" and op["state"] == SUCCEEDED:
            raise obe.ErrInstanceDoesNotExist()  # 410 Gone: the delete is done
        if op["state"] == FAILED and op["kind"] in ("update", "deprovision"):
            # openbrokerapi's LastOperation has no instance_usable/update_repeatable: answer it ourselves.
            body = {"state": FAILED, "description": op["description"], "instance_usable": op["instance_usable"]}
            if op["kind"] == "update":
                body["update_repeatable"] = op["update_repeatable"]
            common.abort_json(200, {k: v for k, v in body.items() if v is not None})
        return LastOperation(OperationState(op["state"]), op["description"])

    # -- the work, in background threads -------------------------------------------------------

    def resume(self) -> int:
        """Restart operations a previous process left in progress. Returns how many."""
        with self._db() as conn:
            ids = [
                r["id"] for r in conn.execute(self._q("SELECT id FROM {s}.operations WHERE state = %s"), (IN_PROGRESS,))
            ]
        for op_id in ids:
            log.info("resuming operation %s", op_id)
            self._start(op_id)
        return len(ids)

    def _start(self, op_id: str) -> None:
        threading.Thread(target=self._run, args=(op_id,), name=f"op-{op_id}", daemon=True).start()

    def _run(self, op_id: str) -> None:
        """Run one operation, at most once at a time across broker processes (advisory lock)."""
        lock_key = zlib.crc32(f"{self.state_schema}:{op_id}".encode())
        with self._db(autocommit=True) as lock_conn:
            if not lock_conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (lock_key,)).fetchone()["ok"]:
                return  # someone else runs it
            try:
                op = lock_conn.execute(self._q("SELECT * FROM {s}.operations WHERE id = %s"), (op_id,)).fetchone()
                if op is None or op["state"] != IN_PROGRESS:
                    return
                with self._db() as conn:
                    instance = self._instance(conn, op["instance_id"])
                if self.work_delay:
                    time.sleep(self.work_delay)
                try:
                    description = getattr(self, f"_do_{op['kind']}")(instance, op)
                except Exception as exc:  # the operation fails; the broker goes on
                    log.exception("operation %s failed", op_id)
                    self._fail(op, instance, _message(exc))
                else:
                    self._succeed(op, instance, description)
            finally:
                lock_conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key,))

    def _succeed(self, op: dict, instance: dict | None, description: str) -> None:
        with self._db() as conn:
            iid = op["instance_id"]
            if op["kind"] == "provision":
                conn.execute(
                    self._q("UPDATE {s}.instances SET state='ready', updated_at=now() WHERE instance_id=%s"), (iid,)
                )
            elif op["kind"] == "update":
                conn.execute(
                    self._q(
                        "UPDATE {s}.instances SET state='ready', plan_id=%s,"
                        " maintenance_version=COALESCE(%s, maintenance_version), updated_at=now() WHERE instance_id=%s"
                    ),
                    (op["target_plan_id"], op["target_version"], iid),
                )
            elif op["kind"] == "deprovision":
                conn.execute(self._q("DELETE FROM {s}.bindings WHERE instance_id = %s"), (iid,))
                conn.execute(self._q("DELETE FROM {s}.instances WHERE instance_id = %s"), (iid,))
            conn.execute(
                self._q("UPDATE {s}.operations SET state=%s, description=%s, updated_at=now() WHERE id=%s"),
                (SUCCEEDED, description, op["id"]),
            )

    def _fail(self, op: dict, instance: dict | None, message: str) -> None:
        usable = None
        with self._db() as conn:
            iid = op["instance_id"]
            if op["kind"] == "provision":
                conn.execute(self._q("UPDATE {s}.instances SET state='failed' WHERE instance_id=%s"), (iid,))
            elif op["kind"] in ("update", "deprovision"):
                usable = instance is not None and self._database_exists(conn, instance["database_name"])
                state = "ready" if usable else "failed"
                conn.execute(self._q("UPDATE {s}.instances SET state=%s WHERE instance_id=%s"), (state, iid))
            conn.execute(
                self._q(
                    "UPDATE {s}.operations SET state=%s, description=%s, instance_usable=%s, update_repeatable=%s,"
                    " updated_at=now() WHERE id=%s"
                ),
                (FAILED, message, usable, True if op["kind"] == "update" else None, op["id"]),
            )

    def _database_exists(self, conn, name: str) -> bool:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None

    def _role_exists(self, conn, name: str) -> bool:
        return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is not None

    def _do_provision(self, instance: dict, op: dict) -> str:
        db, owner = sql.Identifier(instance["database_name"]), sql.Identifier(instance["owner_role"])
        limit = PLANS_BY_ID[instance["plan_id"]].connection_limit
        with self._db(autocommit=True) as conn:
            if not self._role_exists(conn, instance["owner_role"]):
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(owner))
            if not self._database_exists(conn, instance["database_name"]):
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0 ENCODING {} CONNECTION LIMIT {}").format(
                        db, owner, sql.Literal(instance["parameters"]["encoding"]), sql.Literal(limit)
                    )
                )
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
        return f"Database created (at most {limit} connections)."

    def _do_update(self, instance: dict, op: dict) -> str:
        plan = PLANS_BY_ID[op["target_plan_id"]]
        with self._db(autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} CONNECTION LIMIT {}").format(
                    sql.Identifier(instance["database_name"]), sql.Literal(plan.connection_limit)
                )
            )
        done = f"Plan {plan.name}: at most {plan.connection_limit} connections."
        if op["target_version"] and op["target_version"] != instance["maintenance_version"]:
            done += f" Maintenance level {op['target_version']}."
        return done

    def _do_deprovision(self, instance: dict, op: dict) -> str:
        name = instance["database_name"]
        with self._db() as conn:
            roles = [
                r["role_name"]
                for r in conn.execute(
                    self._q("SELECT role_name FROM {s}.bindings WHERE instance_id = %s"), (instance["instance_id"],)
                )
            ]
        with self._db(autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            for role in [*roles, instance["owner_role"]]:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        return "Database dropped."

    # -- bindings ------------------------------------------------------------------------------

    def bind(self, instance_id: str, binding_id: str, details: BindDetails, async_allowed: bool, **kwargs) -> Binding:
        if details.parameters:
            raise obe.ErrInvalidParameters("this service takes no binding parameters")
        with self._db() as conn:
            instance = self._instance(conn, instance_id, lock=True)
            if instance is None:
                abort_error(422, f"The Service Instance {instance_id} does not exist.")
            if instance["state"] != "ready":
                raise obe.ErrConcurrentInstanceAccess()
            existing = conn.execute(
                self._q("SELECT * FROM {s}.bindings WHERE binding_id = %s"), (binding_id,)
            ).fetchone()
            if existing is not None:
                if existing["instance_id"] != instance_id:
                    raise obe.ErrBindingAlreadyExists()
                return Binding(BindState.IDENTICAL_ALREADY_EXISTS, credentials=self._credentials(instance, existing))
            role = common.short_name("sbb_", binding_id)
            row = {"binding_id": binding_id, "role_name": role}
            with self._db(autocommit=True) as admin:
                password = common.binding_password(self.secret, binding_id)
                if not self._role_exists(admin, role):
                    admin.execute(
                        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                            sql.Identifier(role), sql.Literal(password), sql.Identifier(instance["owner_role"])
                        )
                    )
                # Objects a binding creates belong to the instance's owner role: every binding sees them,
                # and unbinding leaves the data in place.
                admin.execute(
                    sql.SQL("ALTER ROLE {} SET role = {}").format(
                        sql.Identifier(role), sql.Literal(instance["owner_role"])
                    )
                )
            conn.execute(
                self._q("INSERT INTO {s}.bindings (binding_id, instance_id, role_name) VALUES (%s, %s, %s)"),
                (binding_id, instance_id, role),
            )
        return Binding(BindState.SUCCESSFUL_BOUND, credentials=self._credentials(instance, row))

    def _credentials(self, instance: dict, binding: dict) -> dict[str, Any]:
        user, password = binding["role_name"], common.binding_password(self.secret, binding["binding_id"])
        host, port, database = self.public_host, self.public_port, instance["database_name"]
        return {
            "uri": f"postgresql://{user}:{quote(password, safe='')}@{host}:{port}/{database}",
            "host": host,
            "port": port,
            "database": database,
            "username": user,
            "password": password,
        }

    def unbind(self, instance_id: str, binding_id: str, details: UnbindDetails, async_allowed: bool, **kwargs):
        with self._db() as conn:
            binding = conn.execute(
                self._q("SELECT * FROM {s}.bindings WHERE binding_id = %s AND instance_id = %s FOR UPDATE"),
                (binding_id, instance_id),
            ).fetchone()
            if binding is None:
                raise obe.ErrBindingDoesNotExist()
            instance = self._instance(conn, instance_id)
            role = sql.Identifier(binding["role_name"])
            with self._db(autocommit=True) as admin:
                if self._role_exists(admin, binding["role_name"]):
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                        (binding["role_name"],),
                    )
                    if instance and self._database_exists(admin, instance["database_name"]):
                        with self._db(instance["database_name"], autocommit=True) as inside:
                            owner = sql.Identifier(instance["owner_role"])
                            inside.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(role, owner))
                            inside.execute(sql.SQL("DROP OWNED BY {}").format(role))
                    admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(role))
            conn.execute(self._q("DELETE FROM {s}.bindings WHERE binding_id = %s"), (binding_id,))
        return UnbindSpec(is_async=False)

    # -- fetching ------------------------------------------------------------------------------

    def get_instance(self, instance_id: str, **kwargs) -> GetInstanceDetailsSpec:
        with self._db() as conn:
            instance = self._instance(conn, instance_id)
        if instance is None or instance["state"] in ("provisioning", "failed", "deprovisioning"):
            raise obe.ErrInstanceDoesNotExist()
        if instance["state"] == "updating":
            raise obe.ErrConcurrentInstanceAccess()
        return GetInstanceDetailsSpec(instance["service_id"], instance["plan_id"], parameters=instance["parameters"])

    def get_binding(self, instance_id: str, binding_id: str, **kwargs) -> GetBindingSpec:
        with self._db() as conn:
            instance = self._instance(conn, instance_id)
            binding = conn.execute(
                self._q("SELECT * FROM {s}.bindings WHERE binding_id = %s AND instance_id = %s"),
                (binding_id, instance_id),
            ).fetchone()
        if instance is None or binding is None:
            raise obe.ErrBindingDoesNotExist()
        return GetBindingSpec(credentials=self._credentials(instance, binding), parameters=binding["parameters"])


def _message(exc: Exception) -> str:
    if isinstance(exc, psycopg.Error) and exc.diag and exc.diag.message_primary:
        return f"PostgreSQL: {exc.diag.message_primary}"
    return f"{type(exc).__name__}: {exc}"[:500]


def main(argv: list[str] | None = None) -> None:
    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--admin-dsn", default=os.environ.get("PG_BROKER_ADMIN_DSN", DEFAULT_ADMIN_DSN))
    parser.add_argument("--state-schema", default=os.environ.get("PG_BROKER_STATE_SCHEMA", "broker_state"))
    parser.add_argument("--public-host", default=os.environ.get("PG_BROKER_PUBLIC_HOST"))
    parser.add_argument("--public-port", type=int, default=os.environ.get("PG_BROKER_PUBLIC_PORT"))
    parser.add_argument("--maintenance-version", default=os.environ.get("PG_BROKER_MAINTENANCE_VERSION", "15.0.0"))
    parser.add_argument("--work-delay", type=float, default=0.0, help="seconds each operation waits (demos, tests)")
    args = parser.parse_args(argv)
    common.check_credentials(parser, args)
    common.setup_logging(args.log_level)
    broker = PostgresBroker(
        args.admin_dsn,
        state_schema=args.state_schema,
        public_host=args.public_host,
        public_port=args.public_port,
        maintenance_version=args.maintenance_version,
        work_delay=args.work_delay,
    )
    resumed = broker.resume()
    if resumed:
        log.info("resumed %d operation(s) left in progress", resumed)
    common.serve(common.make_app(broker, args.username, args.password), args.port)


if __name__ == "__main__":
    main()
