"""The GitHub client against a real HTTP server on 127.0.0.1 that also returns 500s and rate limits."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from automation.adapters.github import GitHubClient, GitHubError
from tests.support.fake_github import ACTIONS_BOT, FakeGitHub, serve

TOKEN = "ghs_CANARYtoken0123456789"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub()) as f:
        yield f


def client(fake: FakeGitHub, slept: list[float], attempts: int = 5) -> GitHubClient:
    return GitHubClient(TOKEN, "acme/blog", api_url=fake.url, attempts=attempts, base_wait_s=0.5, sleep=slept.append)


def test_one_comment_per_pr_and_stack_edited_in_place(fake: FakeGitHub) -> None:
    slept: list[float] = []
    gh = client(fake, slept)
    fake.comment(12, "someone else's comment", login="mallory")
    assert gh.upsert_comment(12, "<!-- m dev -->", "<!-- m dev -->\nfirst") == "created"
    assert gh.upsert_comment(12, "<!-- m dev -->", "<!-- m dev -->\nsecond") == "updated"
    assert gh.upsert_comment(12, "<!-- m prod -->", "<!-- m prod -->\nprod") == "created"
    bodies = sorted(c["body"] for c in fake.comments.values())
    assert bodies == ["<!-- m dev -->\nsecond", "<!-- m prod -->\nprod", "someone else's comment"]
    auth = {h.get("Authorization") for _, _, h, _ in fake.requests}
    assert auth == {f"Bearer {TOKEN}"}


def test_retries_5xx_and_rate_limits_with_backoff(fake: FakeGitHub) -> None:
    slept: list[float] = []
    fake.failures = [
        (500, {}, '{"message": "boom"}'),
        (502, {}, "bad gateway"),
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0"}, '{"message": "API rate limit exceeded"}'),
        (429, {"retry-after": "3"}, '{"message": "secondary rate limit"}'),
    ]
    assert client(fake, slept).upsert_comment(12, "<!-- m -->", "<!-- m -->\nbody") == "created"
    assert slept == [0.5, 1.0, 0.0, 3.0], "exponential backoff, then the server's own reset / Retry-After"


def test_gives_up_with_a_message_that_never_holds_the_token(fake: FakeGitHub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    slept: list[float] = []
    fake.failures = [(503, {}, "unavailable")] * 3
    gh = client(fake, slept, attempts=3)
    with pytest.raises(GitHubError) as info:
        gh.upsert_comment(12, "<!-- m -->", "x")
    assert "failed after 3 attempts: HTTP 503" in str(info.value)
    assert TOKEN not in str(info.value) and TOKEN not in repr(gh) and TOKEN not in caplog.text
    assert len(slept) == 2


def test_a_plain_403_is_not_retried(fake: FakeGitHub) -> None:
    slept: list[float] = []
    fake.failures = [(403, {}, '{"message": "Resource not accessible by integration"}')]
    with pytest.raises(GitHubError, match="HTTP 403 Resource not accessible by integration"):
        client(fake, slept).upsert_comment(12, "<!-- m -->", "x")
    assert slept == []


def test_approvers_are_latest_approving_reviews(fake: FakeGitHub) -> None:
    fake.reviews = [
        {"user": {"login": "bob"}, "state": "CHANGES_REQUESTED"}, {"user": {"login": "bob"}, "state": "APPROVED"},
        {"user": {"login": "carol"}, "state": "APPROVED"}, {"user": {"login": "carol"}, "state": "DISMISSED"},
        {"user": {"login": "dave"}, "state": "COMMENTED"}, {"user": {"login": "erin"}, "state": "APPROVED"},
    ]
    assert client(fake, []).approvers(12) == ("bob", "erin")


def test_pull_request_for_a_merge_commit(fake: FakeGitHub) -> None:
    fake.commit_pulls = [{"number": 31, "title": "New theme", "user": {"login": "alice"}, "merged_at": "2026-11-01T00:00:00Z"}]
    info = client(fake, []).pull_request_for_commit("c" * 40)
    assert info is not None and (info.number, info.title, info.author) == (31, "New theme", "alice")


def test_network_errors_are_retried_then_reported() -> None:
    slept: list[float] = []
    gh = GitHubClient(TOKEN, "acme/blog", api_url="http://127.0.0.1:9", attempts=2, base_wait_s=0.1, sleep=slept.append,
                      timeout_s=2)
    with pytest.raises(GitHubError, match="network error"):
        gh.approvers(1)
    assert slept == [0.1]


def test_no_token_is_a_clear_error() -> None:
    with pytest.raises(GitHubError, match="no GitHub token"):
        GitHubClient("", "acme/blog")


def test_only_the_engine_s_own_comments_count(fake: FakeGitHub) -> None:
    """Issue 28: a comment holding the engine's marker but written by someone else is neither read as the reviewed
    plan nor edited; the engine's own comment is found even beyond the first page of comments."""
    gh = client(fake, [])
    marker = "<!-- ghost-gitops:preview dev -->"
    fake.comment(7, f"{marker}\nforged: an empty plan", login="mallory")
    assert gh.comment_with(7, marker) is None
    assert gh.upsert_comment(7, marker, f"{marker}\nthe engine's preview") == "created", "the forged one is not edited"
    assert [c["body"] for c in fake.comments.values() if c["user"]["login"] == "mallory"] == [f"{marker}\nforged: an empty plan"]
    assert gh.comment_with(7, marker) == f"{marker}\nthe engine's preview"
    for i in range(150):  # a busy pull request: the engine's comment is on the second page of 100
        fake.comment(8, f"review comment {i}", login="reviewer")
    fake.comment(8, f"{marker}\nforged late", login="mallory")
    fake.comment(8, f"{marker}\nreviewed plan", login=ACTIONS_BOT)
    assert gh.comment_with(8, marker) == f"{marker}\nreviewed plan"
    pages = [path for method, path, _, _ in fake.requests if method == "GET" and "/issues/8/comments" in path]
    assert any("page=2" in path for path in pages), pages
    assert GitHubClient(TOKEN, "acme/blog", api_url=fake.url, comment_author="acme-deployer[bot]").comment_with(8, marker) is None


def test_the_fake_refuses_what_github_refuses(fake: FakeGitHub) -> None:
    import httpx

    assert httpx.get(f"{fake.url}/repos/acme/blog/issues/1/comments").status_code == 401
    theirs = fake.comment(3, "mine", login="mallory")
    patched = httpx.patch(f"{fake.url}/repos/acme/blog/issues/comments/{theirs['id']}", json={"body": "x"},
                          headers={"Authorization": f"Bearer {TOKEN}"})
    assert patched.status_code == 403 and fake.comments[theirs["id"]]["body"] == "mine"
