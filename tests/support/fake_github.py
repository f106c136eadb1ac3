"""A small GitHub API on 127.0.0.1 (a real HTTP server in a thread, tests/support/local_server.py) that can fail on purpose.

Like GitHub's REST API (docs: "Issue comments", "Using pagination in the REST API", "Authenticating to the REST API"):
a request without a token is 401 "Requires authentication"; each token acts as one login (``tokens``; any other
token is the Actions token, ``github-actions[bot]``); a comment records its author as ``user.login``/``user.type``
and only its author may edit it (403 otherwise); list endpoints honour ``per_page`` (default 30, at most 100) and
``page`` and say ``rel="next"`` in a ``Link`` header.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.local_server import serve_json

#: who a workflow's GITHUB_TOKEN posts as
ACTIONS_BOT = "github-actions[bot]"


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
    #: token -> the login it acts as; any token not listed is the workflow's GITHUB_TOKEN
    tokens: dict[str, str] = field(default_factory=dict)

    def login_of(self, headers: dict[str, str]) -> str | None:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        token = auth.partition(" ")[2] if auth.lower().startswith(("bearer ", "token ")) else ""
        return self.tokens.get(token, ACTIONS_BOT) if token else None

    def comment(self, pr: int, body: str, login: str = ACTIONS_BOT) -> dict[str, Any]:
        """A comment on pull request ``pr`` by ``login`` (as someone posting through the web UI would)."""
        self.next_id += 1
        self.comments[self.next_id] = {"id": self.next_id, "issue_number": pr, "body": body,
                                       "user": {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"}}
        return self.comments[self.next_id]

    def handle(self, method: str, path: str, headers: dict[str, str], body: str) -> tuple[int, dict[str, str], str]:
        self.requests.append((method, path, headers, body))
        if self.failures:
            return self.failures.pop(0)
        login = self.login_of(headers)
        if login is None:
            return 401, {}, json.dumps({"message": "Requires authentication"})
        path, _, query = path.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
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
        m = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/(\d+)/comments", path)
        if method == "GET" and m:
            listed = [c for c in self.comments.values() if c.get("issue_number", int(m[1])) == int(m[1])]
            return self._page(listed, params)
        if method == "POST" and m:
            return 201, {}, json.dumps(self.comment(int(m[1]), json.loads(body)["body"], login))
        m = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/comments/(\d+)", path)
        if method == "PATCH" and m:
            found = self.comments[int(m[1])]
            if (found.get("user") or {}).get("login", login) != login:
                return 403, {}, json.dumps({"message": "Resource not accessible by integration"})
            found["body"] = json.loads(body)["body"]
            return 200, {}, json.dumps(found)
        if method == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/pulls/\d+/reviews", path):
            return 200, {}, json.dumps(self.reviews)
        if method == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/commits/[0-9a-f]+/pulls", path):
            return 200, {}, json.dumps(self.commit_pulls)
        return 404, {}, json.dumps({"message": "Not Found"})


    def _page(self, items: list[dict[str, Any]], params: dict[str, str]) -> tuple[int, dict[str, str], str]:
        per_page = min(int(params.get("per_page", "30")), 100)
        page = int(params.get("page", "1"))
        chunk = items[(page - 1) * per_page:page * per_page]
        headers = {"Link": f'<{self.url}?per_page={per_page}&page={page + 1}>; rel="next"'} if page * per_page < len(items) else {}
        return 200, headers, json.dumps(chunk)


@contextmanager
def serve(fake: FakeGitHub) -> Iterator[FakeGitHub]:
    with serve_json(fake.handle) as url:
        fake.url = url
        yield fake
