"""The only module that talks to the GitHub API: PR comments (edited in place), reviews, commit PRs.

Retries 5xx, 429 and rate-limited 403 responses with bounded exponential backoff (honouring
Retry-After / X-RateLimit-Reset up to a cap). The token is sent only in the Authorization header;
it never appears in exceptions, logs or reprs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import tenacity

from automation.model.errors import AutomationError

API_URL = "https://api.github.com"
MAX_RETRY_WAIT_S = 60.0


class GitHubError(AutomationError):
    """A GitHub API call failed after retries. The message names the call and status, never the token."""


class _Retryable(Exception):
    def __init__(self, status: int, wait_s: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.wait_s = wait_s


@dataclass(frozen=True)
class PullRequestInfo:
    number: int
    title: str
    author: str
    head_sha: str | None = None


def _retry_wait(response: httpx.Response, now: Callable[[], float]) -> float | None:
    retry_after = response.headers.get("retry-after")
    if retry_after and retry_after.isdigit():
        return min(float(retry_after), MAX_RETRY_WAIT_S)
    reset = response.headers.get("x-ratelimit-reset")
    if response.headers.get("x-ratelimit-remaining") == "0" and reset and reset.isdigit():
        return min(max(float(reset) - now(), 0.0), MAX_RETRY_WAIT_S)
    return None


def _is_rate_limited(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    if response.status_code != 403:
        return False
    return response.headers.get("x-ratelimit-remaining") == "0" or "retry-after" in response.headers or \
        "rate limit" in response.text.lower()


#: who the engine's comments are by: a workflow's GITHUB_TOKEN posts as this GitHub App bot (README, "CI")
ENGINE_COMMENT_AUTHOR = "github-actions[bot]"


class GitHubClient:
    def __init__(self, token: str, repository: str, *, api_url: str = API_URL, attempts: int = 5,
                 base_wait_s: float = 1.0, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, timeout_s: float = 30.0,
                 comment_author: str = ENGINE_COMMENT_AUTHOR) -> None:
        """:param comment_author: the login the engine posts as; only its comments are the engine's (a comment by
        anyone else holding the engine's marker is neither read as a reviewed plan nor edited)."""
        if not token:
            raise GitHubError("no GitHub token (set GITHUB_TOKEN)")
        self.repository = repository
        self.comment_author = comment_author
        self._sleep = sleep
        self._attempts = attempts
        self._base_wait_s = base_wait_s
        self._http = httpx.Client(base_url=api_url, timeout=timeout_s, transport=transport, headers={
            "Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "ghost-gitops-engine"})

    def __repr__(self) -> str:
        return f"GitHubClient(repository={self.repository!r})"

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            hinted = exc.wait_s if isinstance(exc, _Retryable) else None
            backoff = min(self._base_wait_s * 2 ** (state.attempt_number - 1), MAX_RETRY_WAIT_S)
            return hinted if hinted is not None else backoff

        def once() -> httpx.Response:
            try:
                response = self._http.request(method, path, **kw)
            except httpx.TransportError as exc:
                raise _Retryable(0, None) from exc
            if response.status_code >= 500 or _is_rate_limited(response):
                raise _Retryable(response.status_code, _retry_wait(response, time.time))
            return response

        retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(self._attempts), wait=wait, sleep=self._sleep,
                                     retry=tenacity.retry_if_exception_type(_Retryable), reraise=True)
        try:
            response: httpx.Response = retrying(once)
        except _Retryable as exc:
            what = "network error" if exc.status == 0 else f"HTTP {exc.status}"
            raise GitHubError(f"GitHub {method} {path} failed after {self._attempts} attempts: {what}") from None
        if response.status_code >= 400:
            detail = ""
            try:
                detail = str(response.json().get("message", ""))[:200]
            except ValueError:
                pass
            raise GitHubError(f"GitHub {method} {path} failed: HTTP {response.status_code} {detail}".rstrip())
        return response

    def _paginate(self, path: str, params: Mapping[str, str] | None = None) -> list[Mapping[str, Any]]:
        items: list[Mapping[str, Any]] = []
        page = 1
        while True:
            batch = self._request("GET", path, params={**(params or {}), "per_page": 100, "page": page}).json()
            if not isinstance(batch, list):
                raise GitHubError(f"GitHub GET {path}: expected a list")
            items.extend(batch)
            if len(batch) < 100:
                return items
            page += 1

    # -- comments -------------------------------------------------------------------------------
    def upsert_comment(self, pr_number: int, marker: str, body: str) -> str:
        """Edit the PR comment holding ``marker`` in place, or create it. Returns "updated" or "created"."""
        comments = self._paginate(f"/repos/{self.repository}/issues/{pr_number}/comments")
        for comment in comments:
            if self._own(comment) and marker in str(comment.get("body", "")):
                self._request("PATCH", f"/repos/{self.repository}/issues/comments/{comment['id']}", json={"body": body})
                return "updated"
        self._request("POST", f"/repos/{self.repository}/issues/{pr_number}/comments", json={"body": body})
        return "created"

    def comment_with(self, pr_number: int, marker: str) -> str | None:
        """The body of the engine's own PR comment holding ``marker`` (its report), or None. Comments by anyone else
        are ignored, marker or not: the reviewed plan is what the engine itself published."""
        for comment in self._paginate(f"/repos/{self.repository}/issues/{pr_number}/comments"):
            body = str(comment.get("body", ""))
            if self._own(comment) and marker in body:
                return body
        return None

    def _own(self, comment: Mapping[str, Any]) -> bool:
        return str((comment.get("user") or {}).get("login", "")) == self.comment_author

    # -- issues (one per drifted stack) --------------------------------------------------------
    def find_issue(self, marker: str, label: str) -> Mapping[str, Any] | None:
        """The issue (open or closed, newest first) whose body holds ``marker``, among those labelled ``label``."""
        issues = self._paginate(f"/repos/{self.repository}/issues",
                                {"state": "all", "labels": label, "sort": "created", "direction": "desc"})
        for issue in issues:
            if "pull_request" not in issue and marker in str(issue.get("body") or ""):
                return issue
        return None

    def open_or_update_issue(self, marker: str, label: str, title: str, body: str) -> tuple[int, str]:
        """Open the issue holding ``marker`` (reopening it if closed) with this title and body, or create it.
        Returns (number, "created" | "updated" | "reopened")."""
        found = self.find_issue(marker, label)
        if found is None:
            created = self._request("POST", f"/repos/{self.repository}/issues",
                                    json={"title": title, "body": body, "labels": [label]}).json()
            return int(created["number"]), "created"
        number = int(found["number"])
        self._request("PATCH", f"/repos/{self.repository}/issues/{number}",
                      json={"title": title, "body": body, "state": "open"})
        return number, "reopened" if found.get("state") == "closed" else "updated"

    def close_issue(self, marker: str, label: str, comment: str) -> int | None:
        """Comment on and close the open issue holding ``marker``; None when there is none open."""
        found = self.find_issue(marker, label)
        if found is None or found.get("state") != "open":
            return None
        number = int(found["number"])
        self._request("POST", f"/repos/{self.repository}/issues/{number}/comments", json={"body": comment})
        self._request("PATCH", f"/repos/{self.repository}/issues/{number}", json={"state": "closed",
                                                                                 "state_reason": "completed"})
        return number

    # -- audit data -----------------------------------------------------------------------------
    def approvers(self, pr_number: int) -> tuple[str, ...]:
        """Users whose latest review of the PR is an approval."""
        latest: dict[str, str] = {}
        for review in self._paginate(f"/repos/{self.repository}/pulls/{pr_number}/reviews"):
            user = (review.get("user") or {}).get("login")
            state = review.get("state")
            if user and state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                latest[user] = str(state)
        return tuple(sorted(u for u, s in latest.items() if s == "APPROVED"))

    def pull_request_for_commit(self, sha: str) -> PullRequestInfo | None:
        """The merged PR that produced ``sha`` (for a push to an environment branch)."""
        pulls = self._request("GET", f"/repos/{self.repository}/commits/{sha}/pulls").json()
        for pr in pulls if isinstance(pulls, list) else []:
            if pr.get("merged_at") or pr.get("merge_commit_sha") == sha:
                return PullRequestInfo(number=int(pr["number"]), title=str(pr.get("title", "")),
                                       author=str((pr.get("user") or {}).get("login", "")),
                                       head_sha=str((pr.get("head") or {}).get("sha") or "") or None)
        return None
