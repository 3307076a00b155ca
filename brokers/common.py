"""What the example vendor brokers share: the Flask app around openbrokerapi, serving on loopback,
spec-conformant error answers openbrokerapi cannot give, and per-binding passwords.

openbrokerapi 4.7.x quirks handled here:

* it rejects provision requests whose context has no org/space GUIDs unless
  ``DISABLE_SPACE_ORG_GUID_CHECK`` is set (read at import time *and* at call time: we set both);
* it drops ``maintenance_info`` from the request objects: ``raw_body()`` reads the JSON itself;
* it cannot answer ``422 MaintenanceInfoConflict``, nor put ``instance_usable`` into a last operation,
  nor send ``Retry-After``: ``abort_json`` answers any status and body (a werkzeug ``HTTPException``
  carrying a response bypasses the blueprint's catch-all 500 handler), and ``make_app`` adds
  ``Retry-After`` to "in progress" polls and echoes ``X-Broker-API-Request-Identity``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import logging
import os
import signal
import sys
import threading
from typing import Any, NoReturn

os.environ.setdefault("DISABLE_SPACE_ORG_GUID_CHECK", "true")

import openbrokerapi.settings  # noqa: E402
from flask import Flask, abort, jsonify, make_response, request  # noqa: E402
from openbrokerapi import api  # noqa: E402
from openbrokerapi.service_broker import ServiceBroker  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from osb.errors import error_body, maintenance_info_conflict_body  # noqa: E402

openbrokerapi.settings.DISABLE_SPACE_ORG_GUID_CHECK = True

log = logging.getLogger("brokers")
HOST = "127.0.0.1"  # the example brokers never listen beyond loopback
POLL_AGAIN_SECONDS = "1"


def arg_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=int(os.environ.get("BROKER_PORT", "0")), help="0 = a free port")
    parser.add_argument("--username", default=os.environ.get("BROKER_USERNAME"), help="basic auth ($BROKER_USERNAME)")
    parser.add_argument("--password", default=os.environ.get("BROKER_PASSWORD"), help="basic auth ($BROKER_PASSWORD)")
    parser.add_argument("--log-level", default=os.environ.get("BROKER_LOG_LEVEL", "INFO"))
    return parser


def check_credentials(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not args.username or not args.password:
        parser.error("basic auth is required: --username/--password or $BROKER_USERNAME/$BROKER_PASSWORD")


def make_app(broker: ServiceBroker, username: str, password: str) -> Flask:
    app = Flask(broker.__class__.__name__)
    blueprint = api.get_blueprint(broker, api.BrokerCredentials(username, password), logging.getLogger("openbrokerapi"))
    app.register_blueprint(blueprint)

    @app.after_request
    def spec_headers(response):
        request_id = request.headers.get("X-Broker-API-Request-Identity")
        if request_id:
            response.headers["X-Broker-API-Request-Identity"] = request_id
        if request.path.endswith("/last_operation") and response.status_code == 200:
            data = response.get_json(silent=True) or {}
            if data.get("state") == "in progress":
                response.headers["Retry-After"] = POLL_AGAIN_SECONDS
        return response

    return app


def serve(app: Flask, port: int) -> None:
    """Serve on 127.0.0.1 (threaded) until SIGTERM/SIGINT. Prints the URL first, for whoever started us."""
    server = make_server(HOST, port, app, threaded=True)
    print(f"listening on http://{HOST}:{server.port}", flush=True)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()


def setup_logging(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # openbrokerapi logs whole requests (Authorization header included) at DEBUG: never below INFO.
    logging.getLogger("openbrokerapi").setLevel(max(logging.INFO, logging.getLogger().level))


def abort_json(status: int, body: dict[str, Any]) -> NoReturn:
    abort(make_response(jsonify(body), status))


def abort_error(status: int, description: str, error: str | None = None, **flags: bool | None) -> NoReturn:
    abort_json(status, error_body(error, description, **flags))


def raw_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def requested_maintenance_version() -> str | None:
    info = raw_body().get("maintenance_info")
    if info is None:
        return None
    if not isinstance(info, dict) or not isinstance(info.get("version"), str) or not info["version"]:
        abort_error(400, "maintenance_info.version must be a non-empty string")
    return info["version"]


def check_maintenance_info(catalog_version: str) -> str | None:
    """The spec: a ``maintenance_info.version`` that differs from the catalog's → 422 MaintenanceInfoConflict."""
    version = requested_maintenance_version()
    if version is not None and version != catalog_version:
        abort_json(
            422,
            maintenance_info_conflict_body(
                f"The maintenance information for the requested Service Plan has changed: it is now {catalog_version}."
            ),
        )
    return version


def binding_password(secret: str, binding_id: str) -> str:
    """A per-binding password derived from the broker's secret: the same binding id always gets the
    same password (so a repeated bind answers 200 with working credentials) and nothing is stored."""
    digest = hmac.new(secret.encode(), f"binding:{binding_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def short_name(prefix: str, some_id: str) -> str:
    """A stable, identifier-safe name for a remote resource: prefix + 24 hex digits of the id's hash."""
    return prefix + hashlib.sha256(some_id.encode()).hexdigest()[:24]
