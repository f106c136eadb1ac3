"""Where reports go besides the terminal: the job summary file and the PR comment. Never raises.

Also resolves the audit data (PR title, author, approvers) through the GitHub API when a token is
available, and from the merge commit message otherwise.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from automation.adapters.github import ENGINE_COMMENT_AUTHOR, GitHubClient, GitHubError
from automation.model.request import Request
from automation.review.audit import AuditInfo, from_merge_message
from automation.review.fingerprint import Review, parse_marker
from automation.review.redact import Redactor
from automation.review.render import Report, Status, marker, render_markdown


def github_client(environ: Mapping[str, str], request: Request) -> GitHubClient | None:
    token = environ.get("GITHUB_TOKEN") or environ.get("GH_TOKEN")
    repo = request.repository or environ.get("GITHUB_REPOSITORY")
    if not token or not repo:
        return None
    return GitHubClient(token, repo, api_url=environ.get("GITHUB_API_URL", "https://api.github.com"),
                        comment_author=environ.get("GHOST_GITOPS_COMMENT_AUTHOR") or ENGINE_COMMENT_AUTHOR)


def resolve_audit(request: Request, gh: GitHubClient | None, err: TextIO) -> AuditInfo:
    branch = request.branch or "(no branch)"
    pr = request.pull_request
    if request.event in ("workflow_dispatch", "manual"):
        # A person started this run: they are its author; no pull request approved it (a GitHub environment's
        # required reviewers, if any, approved the job itself).
        what = f"{request.dispatch_operation or 'up'} started by hand ({request.event})"
        return AuditInfo(branch=branch, sha=request.sha, pr_title=what, author=request.actor,
                         approval_note="no pull request approval (a manual run)")
    if pr is not None:
        info = AuditInfo(branch=branch, sha=request.sha, pr_number=pr.number, pr_title=pr.title, author=pr.author)
    else:
        number, title = from_merge_message(request.head_commit_message)
        info = AuditInfo(branch=branch, sha=request.sha, pr_number=number, pr_title=title, author=request.actor)
    if gh is None:
        return info
    try:
        if pr is None and request.sha:
            found = gh.pull_request_for_commit(request.sha)
            if found is not None:
                info = AuditInfo(branch=branch, sha=request.sha, pr_number=found.number, pr_title=found.title,
                                 author=found.author, head_sha=found.head_sha)
        if info.pr_number:
            info = replace(info, approvers=gh.approvers(info.pr_number))
    except GitHubError as exc:
        err.write(f"warning: audit data from GitHub unavailable: {exc}\n")
    return info


def review_lookup(gh: GitHubClient | None, audit: AuditInfo | None, request: Request) -> Callable[[str], Review]:
    """For a merge: per stack, the plan reviewed on the merged pull request (read from its comment). For a manual
    run (the override of a refused merge) the pull request is found from the commit, once."""

    @functools.cache
    def merged() -> tuple[int | None, str | None, str | None]:
        """(PR number, its head commit, why it cannot be known)."""
        if audit is not None and audit.pr_number is not None:
            return audit.pr_number, audit.head_sha, None
        if gh is None or not request.sha or request.event != "workflow_dispatch":
            return None, None, None
        try:
            found = gh.pull_request_for_commit(request.sha)
        except GitHubError as exc:
            return None, None, f"the pull request of {request.sha[:7]} cannot be read ({exc})"
        return (found.number, found.head_sha, None) if found is not None else (None, None, None)

    def lookup(stack: str) -> Review:
        if gh is None:
            pr = audit.pr_number if audit is not None else None
            return Review(pr, None, None, unavailable="no GitHub access (GITHUB_TOKEN) to read the pull request's preview")
        pr, head, unavailable = merged()
        if unavailable is not None or pr is None:
            return Review(None, None, None, unavailable=unavailable)
        try:
            body = gh.comment_with(pr, marker(stack))
        except GitHubError as exc:
            return Review(pr, None, None, unavailable=f"the comments of #{pr} cannot be read ({exc})")
        return Review(pr, head, parse_marker(body or "", stack))

    return lookup


def publish(reports: tuple[Report, ...], request: Request, environ: Mapping[str, str], gh: GitHubClient | None,
            redact: Redactor, err: TextIO) -> list[str]:
    """Append to $GITHUB_STEP_SUMMARY and upsert one PR comment per stack. Returns problems (also printed)."""
    problems: list[str] = []
    shown = [r for r in reports if r.stack is not None and r.status != Status.NONE]
    summary_path = environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        try:
            with Path(summary_path).open("a", encoding="utf-8") as fh:
                for report in reports:
                    fh.write(render_markdown(report, redact=redact) + "\n\n")
        except OSError as exc:
            problems.append(f"could not write the job summary: {exc}")
    pr = request.pull_request
    if pr is not None and pr.number and shown:
        if gh is None:
            problems.append("no PR comment: GITHUB_TOKEN or the repository is not available")
        else:
            for report in shown:
                try:
                    assert report.stack is not None
                    gh.upsert_comment(pr.number, marker(report.stack), render_markdown(report, redact=redact))
                except GitHubError as exc:
                    problems.append(f"could not comment on pull request #{pr.number}: {exc}")
    for problem in problems:
        err.write(f"warning: {redact(problem)} (the operation itself is unaffected)\n")
    return problems
