"""A small, real HTTP broker for tests that answers whatever the test scripts, including faults.

It is an ``http.server`` on 127.0.0.1 and a free port, in a thread of the test process: the client talks
to it over real TCP, so timeouts, broken connections and odd bodies are the real thing, not mocks.

    broker.reply("PUT", "/v2/service_instances/i1", 500, {"description": "boom"})
    broker.reply("GET", "/v2/catalog", 200, b"{not json")
    broker.reply("PUT", "/v2/service_instances/slow", 201, {}, delay=5)   # hangs past the client's timeout
    broker.reply("PUT", "/v2/service_instances/cut", drop=True)           # closes without answering
    broker.sequence("GET", ".../last_operation", [Reply(200, {...}), Reply(200, {...})])

Every request is recorded (method, path, query, headers, JSON body) in ``broker.requests``.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)  # dict/list → JSON; bytes/str → sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (released early when the broker stops)
    drop: bool = False  # close the connection without any answer


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class FaultBroker:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._replies: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self._sticky: dict[tuple[str, str], Reply] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fault-broker", daemon=True
        )

    def start(self) -> FaultBroker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # release handlers that are "hanging"
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def reset(self) -> None:
        """Forget what was scripted and recorded (between tests)."""
        with self._lock:
            self.requests.clear()
            self._replies.clear()
            self._sticky.clear()

    # -- scripting -----------------------------------------------------------------------------

    def reply(self, method: str, path: str, status: int = 200, body: Any = None, **kw) -> None:
        """Answer every ``method path`` request like this (until scripted otherwise)."""
        with self._lock:
            self._sticky[(method, path)] = Reply(status, {} if body is None else body, **kw)
            self._replies.pop((method, path), None)

    def sequence(self, method: str, path: str, replies: list[Reply]) -> None:
        """Answer successive requests with these replies; the last one repeats."""
        with self._lock:
            self._replies[(method, path)] = deque(replies[:-1])
            self._sticky[(method, path)] = replies[-1]

    def last(self, method: str | None = None) -> Recorded:
        matching = [r for r in self.requests if method is None or r.method == method]
        return matching[-1]

    def _next(self, method: str, path: str) -> Reply:
        with self._lock:
            queue = self._replies.get((method, path))
            if queue:
                return queue.popleft()
            return self._sticky.get((method, path)) or Reply(404, {"description": f"nothing scripted for {path}"})

    # -- serving -------------------------------------------------------------------------------

    def _handler(self):
        broker = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                query = {k: v[-1] for k, v in parse_qs(split.query).items()}
                with broker._lock:
                    broker.requests.append(Recorded(self.command, split.path, query, dict(self.headers), body))
                reply = broker._next(self.command, split.path)
                if reply.delay:
                    broker._stopping.wait(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                if isinstance(reply.body, bytes | str):
                    payload = reply.body.encode() if isinstance(reply.body, str) else reply.body
                else:
                    payload = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                    self.close_connection = True

            do_GET = do_PUT = do_PATCH = do_DELETE = _serve

        return Handler
