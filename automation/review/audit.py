"""Who, what, when, why, who approved: the message every `up` carries. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

MERGE_MESSAGE = re.compile(r"^Merge pull request #(?P<number>\d+) from (?P<source>\S+)(?:\n\n(?P<title>.+))?", re.DOTALL)


@dataclass(frozen=True)
class AuditInfo:
    branch: str
    sha: str | None
    pr_number: int | None = None
    pr_title: str | None = None
    author: str | None = None
    approvers: tuple[str, ...] | None = None  # None: unknown (no token)
    #: replaces the approvers part when approval does not come from a pull request (a manual run)
    approval_note: str | None = None
    #: the pull request's head commit when it was merged (what its preview had to be of)
    head_sha: str | None = None


def from_merge_message(message: str | None) -> tuple[int | None, str | None]:
    """PR number and title from GitHub's merge commit message, when no API token is available."""
    if not message:
        return None, None
    m = MERGE_MESSAGE.match(message)
    if not m:
        return None, None
    title = (m["title"] or "").strip().splitlines()[0] if m["title"] else None
    return int(m["number"]), title


def audit_message(info: AuditInfo) -> str:
    """``<branch>@<sha7>: <PR title> (#N) by <author>, approved by <reviewers>``."""
    sha7 = (info.sha or "unknown")[:7]
    title = (info.pr_title or "direct push").replace("\n", " ").strip()
    pr = f" (#{info.pr_number})" if info.pr_number else ""
    author = info.author or "unknown"
    if info.approval_note is not None:
        approved = info.approval_note
    elif info.approvers is None:
        approved = "approvers unknown (no GitHub token)"
    elif info.approvers:
        approved = "approved by " + ", ".join(info.approvers)
    else:
        approved = "approved by nobody"
    return f"{info.branch}@{sha7}: {title}{pr} by {author}, {approved}"
