"""A small GitHub API on 127.0.0.1 (a real HTTP server in a thread) that can fail on purpose."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeGitHub:
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    commit_pulls: list[dict[str, Any]] = field(default_factory=list)
    #: issues by number, as GitHub's REST API returns them (number, title, body, state, labels)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: responses to return before serving normally: (status, headers, body)
    failures: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str], str]] = field(default_factory=list)
    next_id: int = 100
    url: str = ""

    def handle(self, method: str, path: str, headers: dict[str, str], body: str) -> tuple[int, dict[str, str], str]:
        self.requests.append((method, path, headers, body))
        if self.failures:
            return self.failures.pop(0)
        path, _, query = path.partition("?")
        if method == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/issues", path):
            # GET /repos/{owner}/{repo}/issues?labels=L&state=all: issues carrying label L (GitHub REST docs)
            label = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("labels")
            listed = [i for i in self.issues.values() if label is None or label in {x["name"] for x in i["labels"]}]
            return 200, {}, json.dumps(sorted(listed, key=lambda i: -int(i["number"])))
        if method == "POST" and re.fullmatch(r"/repos/[^/]+/[^/]+/issues", path):
            doc = json.loads(body)
            number = len(self.issues) + 1
            self.issues[number] = {"number": number, "title": doc["title"], "body": doc["body"], "state": "open",
                                   "labels": [{"name": n} for n in doc.get("labels", [])], "comments": []}
            return 201, {}, json.dumps(self.issues[number])
        m = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/(\d+)", path)
        if method == "PATCH" and m and int(m[1]) in self.issues:
            self.issues[int(m[1])].update({k: v for k, v in json.loads(body).items() if k in ("title", "body", "state")})
            return 200, {}, json.dumps(self.issues[int(m[1])])
        m = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/(\d+)/comments", path)
        if method == "POST" and m and int(m[1]) in self.issues:
            self.issues[int(m[1])]["comments"].append(json.loads(body)["body"])
            return 201, {}, json.dumps({"id": 1})
        if method == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/issues/\d+/comments", path):
            return 200, {}, json.dumps(list(self.comments.values()))
        if method == "POST" and re.fullmatch(r"/repos/[^/]+/[^/]+/issues/\d+/comments", path):
            self.next_id += 1
            self.comments[self.next_id] = {"id": self.next_id, "body": json.loads(body)["body"]}
            return 201, {}, json.dumps(self.comments[self.next_id])
        m = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/comments/(\d+)", path)
        if method == "PATCH" and m:
            self.comments[int(m[1])]["body"] = json.loads(body)["body"]
            return 200, {}, json.dumps(self.comments[int(m[1])])
        if method == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/pulls/\d+/reviews", path):
            return 200, {}, json.dumps(self.reviews)
        if method == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/commits/[0-9a-f]+/pulls", path):
            return 200, {}, json.dumps(self.commit_pulls)
        return 404, {}, json.dumps({"message": "Not Found"})


@contextmanager
def serve(fake: FakeGitHub) -> Iterator[FakeGitHub]:
    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            status, headers, text = fake.handle(self.command, self.path, dict(self.headers), body)
            data = text.encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _any  # noqa: N815 - http.server's naming

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
