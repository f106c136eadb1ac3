"""Who, what, when, why, who approved: the message every `up` carries, and the history table. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from automation.engine import HistoryEntry

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


def render_history(stack: str, entries: Iterable[HistoryEntry]) -> str:
    """A table of updates, newest first: when, who, what (counts), why (message) and the result."""
    rows = [f"history of {stack} (newest first)",
            f"{'#':>4}  {'when (UTC)':<19}  {'kind':<8} {'result':<10} {'what':<28} why / who"]
    count = 0
    for e in entries:
        count += 1
        what = ", ".join(f"{n} {op}" for op, n in sorted(e.counts.items()) if n and op != "same") or "no changes"
        commit = f" [{e.commit[:7]}]" if e.commit else ""
        rows.append(f"{e.version if e.version is not None else '-':>4}  {e.started:%Y-%m-%d %H:%M:%S}  {e.kind:<8} "
                    f"{e.result:<10} {what[:28]:<28} {e.message or '(no message)'}{commit}")
    if count == 0:
        rows.append("  (no updates yet)")
    return "\n".join(rows)
