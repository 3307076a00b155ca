"""A small httpx client for the Servicebay REST API with errors turned into exit codes."""

from __future__ import annotations

from typing import Any

import httpx

from sbay import __version__

# Exit codes scripts can rely on (also in README "CLI").
EXIT_OK = 0
EXIT_FAILED = 1  # the request worked but the operation failed or was cancelled
EXIT_USAGE = 2
EXIT_AUTH = 3  # not logged in, bad/expired/revoked token (401) or not allowed (403)
EXIT_NOT_FOUND = 4
EXIT_INVALID = 5  # the server rejected the input (400/409/422)
EXIT_UNREACHABLE = 6  # cannot connect / timeout / not a Servicebay server
EXIT_SERVER = 7  # 5xx


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = EXIT_FAILED, fields: dict | None = None):
        super().__init__(message)
        self.exit_code = exit_code
        self.fields = fields or {}


def _exit_code_for(status: int) -> int:
    if status in (401, 403):
        return EXIT_AUTH
    if status == 404:
        return EXIT_NOT_FOUND
    if status in (400, 409, 412, 422):
        return EXIT_INVALID
    if status >= 500:
        return EXIT_SERVER
    return EXIT_FAILED


class Client:
    def __init__(self, url: str, token: str, org: str = "", timeout: float = 15.0):
        if not url:
            raise CliError("Not logged in: run `sbay login --url URL --token TOKEN` first.", EXIT_AUTH)
        headers = {"User-Agent": f"sbay/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if org:
            headers["X-Servicebay-Org"] = org
        self.base = url.rstrip("/")
        self.http = httpx.Client(base_url=self.base, headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise CliError(f"Timed out talking to {self.base}.", EXIT_UNREACHABLE) from exc
        except httpx.HTTPError as exc:
            raise CliError(f"Cannot connect to {self.base}: {exc}", EXIT_UNREACHABLE) from exc
        if response.status_code == 204:
            return None
        try:
            body = response.json()
        except ValueError as exc:
            if response.is_success:
                raise CliError(f"{self.base} did not answer like a Servicebay server.", EXIT_UNREACHABLE) from exc
            body = {}
        if response.is_success:
            return body
        error = body.get("error", {}) if isinstance(body, dict) else {}
        message = error.get("message") or f"HTTP {response.status_code} from {self.base}{path}"
        if response.status_code == 401:
            message = f"Not authenticated: {message} Run `sbay login` with a valid token."
        raise CliError(message, _exit_code_for(response.status_code), error.get("fields"))

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v not in (None, "")})

    def post(self, path: str, json: Any = None) -> Any:
        return self.request("POST", path, json=json if json is not None else {})

    def patch(self, path: str, json: Any) -> Any:
        return self.request("PATCH", path, json=json)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def paginate(self, path: str, **params: Any) -> list[dict]:
        items: list[dict] = []
        page = self.get(path, **params)
        while True:
            items.extend(page.get("results", []))
            if not page.get("next"):
                return items
            page = self.request("GET", page["next"])
