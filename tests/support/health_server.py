"""A Ghost-like health endpoint on 127.0.0.1 (a real HTTP server in a thread) whose answers tests choose.

Modes: ``healthy``; ``booting`` (``booting_left`` answers of 503, then 200, as Ghost does while it migrates);
``down`` (503 forever); ``redirect`` (302 to the healthy path, as Ghost does for a wrong scheme or host);
``loop`` (302 to itself); ``judge`` (asks ``judge()`` -- e.g. healthy unless the deployed "cloud" says broken).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.local_server import serve_json

PATH = "/ghost/api/admin/site/"


@dataclass
class HealthServer:
    mode: str = "healthy"
    booting_left: int = 0
    judge: Callable[[], bool] = lambda: True
    #: as Ghost behind a TLS-terminating load balancer: without `X-Forwarded-Proto: https` it redirects to https
    require_https_header: bool = False
    hits: list[str] = field(default_factory=list)
    url: str = ""

    def answer(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], dict[str, Any]]:
        self.hits.append(path)
        proto = {k.lower(): v for k, v in (headers or {}).items()}.get("x-forwarded-proto")
        if self.require_https_header and proto != "https":
            return 301, {"Location": f"https://127.0.0.1:1{path}"}, {}
        ok: tuple[int, dict[str, str], dict[str, Any]] = (200, {}, {"site": {"title": "Ghost", "version": "6.65"}})
        unavailable: tuple[int, dict[str, str], dict[str, Any]] = (503, {}, {"errors": [{"message": "Ghost is starting"}]})
        if path == "/healthy":
            return ok
        if self.mode == "booting":
            if self.booting_left > 0:
                self.booting_left -= 1
                return unavailable
            return ok
        if self.mode == "down":
            return unavailable
        if self.mode == "redirect":
            return 302, {"Location": "/healthy"}, {}
        if self.mode == "loop":
            return 302, {"Location": PATH}, {}
        if self.mode == "judge":
            return ok if self.judge() else unavailable
        return ok


@contextmanager
def serve(server: HealthServer) -> Iterator[HealthServer]:
    def handle(method: str, path: str, headers: dict[str, str], body: str) -> tuple[int, dict[str, str], str]:
        status, extra, doc = server.answer(path, headers)
        return status, extra, json.dumps(doc)

    with serve_json(handle) as url:
        server.url = f"{url}{PATH}"
        yield server
