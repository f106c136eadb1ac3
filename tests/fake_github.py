"""A small GitHub API on 127.0.0.1 (a real HTTP server in a thread, tests/local_server.py) that can fail on purpose."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.local_server import serve_json


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
    with serve_json(fake.handle) as url:
        fake.url = url
        yield fake
