"""Fault injection and request counting shared by the sandboxes (never by the connectors).

Tests and benchmarks steer it over HTTP, so a sandbox running in another process can be told to
misbehave: ``GET|PUT /_sandbox/faults`` reads or sets the plan (JSON), ``GET /_sandbox/stats``
returns request counts by method (the "no write request on a re-run" guarantee is checked with
it) and ``POST /_sandbox/stats/reset`` zeroes them.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any, NoReturn

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

CONTROL_PREFIX = "/_sandbox/"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class FaultPlan:
    """What to do to the next requests. Deterministic counters first, then random rates."""

    latency_ms: int = 0  # added to every request
    fail_next: int = 0  # answer the next N requests with `status`
    drop_next: int = 0  # close the connection on the next N requests without answering
    error_rate: float = 0.0  # probability of answering `status`
    drop_rate: float = 0.0  # probability of dropping the connection
    status: int = 503
    retry_after: int | None = None  # seconds, sent with 503/429 answers
    writes_only: bool = False  # only POST/PUT/PATCH/DELETE are affected (latency excepted)
    seed: int | None = None

    def update(self, data: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        for name, value in data.items():
            setattr(self, name, value)


class FaultInjector:
    """WSGI middleware: control endpoints, request counting, then the faults, then the app."""

    def __init__(self, app: WSGIApp, plan: FaultPlan | None = None) -> None:
        self.app = app
        self.plan = plan or FaultPlan()
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._random = random.Random(self.plan.seed)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, start_response, path[len(CONTROL_PREFIX) :])
        method = environ.get("REQUEST_METHOD", "GET")
        with self._lock:
            # a login is not a write of anyone's data: counted apart, so "no write" tests hold
            self.counts["login" if "/authn/" in path else method] += 1
            action = self._decide(method)
        if self.plan.latency_ms:
            time.sleep(self.plan.latency_ms / 1000)
        if action == "drop":
            self._drop(environ)
        if action == "fail":
            return self._error(start_response)
        return self.app(environ, start_response)

    def stats(self) -> dict[str, int]:
        """Requests seen by method (logins apart), plus ``writes`` and ``total``."""
        with self._lock:
            counts = dict(self.counts)
        counts["writes"] = sum(n for m, n in counts.items() if m in WRITE_METHODS)
        counts["total"] = sum(counts.values()) - counts["writes"]
        return counts

    def reset_stats(self) -> None:
        with self._lock:
            self.counts.clear()

    def _decide(self, method: str) -> str | None:
        plan = self.plan
        if plan.writes_only and method not in WRITE_METHODS:
            return None
        if plan.drop_next > 0:
            plan.drop_next -= 1
            return "drop"
        if plan.fail_next > 0:
            plan.fail_next -= 1
            return "fail"
        if plan.drop_rate and self._random.random() < plan.drop_rate:
            return "drop"
        if plan.error_rate and self._random.random() < plan.error_rate:
            return "fail"
        return None

    @staticmethod
    def _drop(environ: dict[str, Any]) -> NoReturn:
        """Close the client's socket with nothing sent, as a crashed proxy or a reset would.

        The ConnectionAbortedError tells the server the connection is gone (werkzeug then
        drops it quietly instead of trying to answer)."""
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        raise ConnectionAbortedError("sandbox dropped the connection")

    def _error(self, start_response: Callable[..., Any]) -> list[bytes]:
        status = self.plan.status
        body = json.dumps({"status": status, "error": "Injected fault", "message": ""}).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        if self.plan.retry_after is not None and status in (429, 503):
            headers.append(("Retry-After", str(self.plan.retry_after)))
        start_response(f"{status} Injected", headers)
        return [body]

    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any], what: str):
        method = environ.get("REQUEST_METHOD", "GET")
        status, payload = "200 OK", None
        if what == "faults" and method == "GET":
            payload = asdict(self.plan)
        elif what == "faults" and method in ("PUT", "POST"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                data = json.loads(environ["wsgi.input"].read(length) or b"{}")
                with self._lock:
                    self.plan.update(data)
                    if "seed" in data:
                        self._random = random.Random(self.plan.seed)
                payload = asdict(self.plan)
            except (ValueError, TypeError) as error:
                status, payload = "400 Bad Request", {"error": str(error)}
        elif what == "faults" and method == "DELETE":
            with self._lock:
                self.plan = FaultPlan()
            payload = asdict(self.plan)
        elif what == "stats" and method == "GET":
            payload = self.stats()
        elif what == "stats/reset" and method == "POST":
            self.reset_stats()
            payload = {}
        else:
            status, payload = "404 Not Found", {"error": f"no sandbox control {what!r}"}
        body = json.dumps(payload).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]
