"""Apply what was reviewed: a plan's fingerprint, where it is kept, and the verdict at merge. Pure.

A fingerprint lists, per resource the plan touches, its URN, the operation, the changed keys and whether
it is a replacement -- never a value. The PR preview writes it into its PR comment as a hidden HTML
comment (``<!-- ghost-gitops:plan ... -->``), next to the table the reviewer read, together with the head
commit it was computed at. At merge, the ``up`` previews again, computes the fingerprint of what it would
do now, and compares: a different plan (the base moved, someone changed the cloud, a provider behaves
differently) is not applied unless an override with a reason is given (recorded in the audit message).

Why the PR comment: it is what the reviewer actually saw, it already exists once per PR and stack, it is
found from the merge commit through the API the audit already uses (commit -> PR -> comments), and it
needs no artifact retention or extra permission. Anyone who can edit it can also merge, so it is no
weaker than the review itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from automation.model.changes import ResourceChange

#: Step ops that are one replacement of a resource.
_REPLACE = frozenset({"replace", "create-replacement", "delete-replaced"})
_IGNORED = frozenset({"same", "read", "refresh"})
#: Encoded entries larger than this are not embedded (the digest still is): keeps the comment small.
MAX_EMBEDDED = 16_000
_MARKER = re.compile(r"<!-- ghost-gitops:plan v1 stack=(?P<stack>\S+) commit=(?P<commit>[0-9a-f]{40}|-) "
                     r"digest=(?P<digest>[0-9a-f]{64})(?: data=(?P<data>[A-Za-z0-9_=-]+))? -->")

ReviewMode = Literal["off", "check", "require"]


@dataclass(frozen=True, order=True)
class PlanEntry:
    urn: str
    op: str  # create | update | replace | delete
    keys: tuple[str, ...] = ()

    def describe(self) -> str:
        name = self.urn.rsplit("::", 1)[-1]
        kind = self.urn.rsplit("::", 2)[-2] if self.urn.count("::") >= 2 else ""
        return f"{self.op} {kind} {name}".replace("  ", " ") + (f" [{', '.join(self.keys)}]" if self.keys else "")


@dataclass(frozen=True)
class PlanFingerprint:
    entries: tuple[PlanEntry, ...]

    @property
    def digest(self) -> str:
        canonical = json.dumps([[e.urn, e.op, list(e.keys)] for e in self.entries], separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def marker(self, stack: str, commit: str | None) -> str:
        """The hidden line kept in the PR comment."""
        raw = json.dumps([[e.urn, e.op, list(e.keys)] for e in self.entries], separators=(",", ":")).encode()
        data = base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode()
        embedded = f" data={data}" if len(data) <= MAX_EMBEDDED else ""
        return f"<!-- ghost-gitops:plan v1 stack={stack} commit={commit or '-'} digest={self.digest}{embedded} -->"


def fingerprint(changes: Iterable[ResourceChange]) -> PlanFingerprint:
    """The fingerprint of a preview's changes (one entry per URN; replacement steps merged)."""
    by_urn: dict[str, PlanEntry] = {}
    for change in changes:
        if change.op in _IGNORED:
            continue
        op = "replace" if change.op in _REPLACE else change.op
        earlier = by_urn.get(change.urn)
        if earlier is not None and (earlier.op == "replace" or op == "replace"):
            op = "replace"
        keys = tuple(sorted(set(change.keys) | set(earlier.keys if earlier else ())))
        by_urn[change.urn] = PlanEntry(change.urn, op, keys)
    return PlanFingerprint(tuple(sorted(by_urn.values())))


@dataclass(frozen=True)
class ReviewedPlan:
    """What the PR comment of a stack holds: the commit previewed, the digest, and the entries when embedded."""

    stack: str
    commit: str | None
    digest: str
    entries: tuple[PlanEntry, ...] | None


def parse_marker(text: str, stack: str) -> ReviewedPlan | None:
    """The reviewed plan of ``stack`` in a comment body, or None when the body holds none (or a corrupt one)."""
    for m in _MARKER.finditer(text):
        if m["stack"] != stack:
            continue
        entries = None
        if m["data"]:
            try:
                raw = json.loads(zlib.decompress(base64.urlsafe_b64decode(m["data"])))
                entries = tuple(PlanEntry(str(u), str(o), tuple(str(k) for k in keys)) for u, o, keys in raw)
            except (ValueError, zlib.error, TypeError):
                return None
            if PlanFingerprint(entries).digest != m["digest"]:
                return None  # edited by hand: not a plan anyone reviewed
        return ReviewedPlan(stack=stack, commit=None if m["commit"] == "-" else m["commit"], digest=m["digest"],
                            entries=entries)
    return None


@dataclass(frozen=True)
class Review:
    """What the merge knows about the review of the change it deploys."""

    pr_number: int | None
    #: the PR's head commit when it was merged
    head_sha: str | None
    plan: ReviewedPlan | None
    #: why nothing could be found (no PR for the commit, no GitHub access, ...)
    unavailable: str | None = None


@dataclass(frozen=True)
class Verdict:
    ok: bool
    summary: str
    differences: tuple[str, ...] = ()


def judge(review: Review | None, merged: PlanFingerprint, mode: ReviewMode) -> Verdict:
    """Whether the plan about to be applied is the one that was reviewed. Pure."""
    if mode == "off":
        return Verdict(True, "reviewed-plan check is off for this environment")
    missing = None
    if review is None or review.unavailable:
        missing = review.unavailable if review is not None and review.unavailable else "no review information"
    elif review.pr_number is None:
        missing = "no pull request merged this commit (a direct push)"
    elif review.plan is None:
        missing = f"pull request #{review.pr_number} has no cloud preview of this stack (its comment holds no plan)"
    if missing is not None:
        if mode == "require":
            return Verdict(False, f"no reviewed plan to compare with: {missing}")
        return Verdict(True, f"reviewed plan not checked: {missing}")
    assert review is not None and review.plan is not None
    pr = f"#{review.pr_number}"
    if review.head_sha and review.plan.commit and review.plan.commit != review.head_sha:
        return Verdict(False, f"the preview on {pr} is of {review.plan.commit[:7]} but the pull request was merged at "
                              f"{review.head_sha[:7]}: the last push was never previewed")
    if review.plan.digest == merged.digest:
        at = f" at {review.plan.commit[:7]}" if review.plan.commit else ""
        return Verdict(True, f"the plan matches the preview reviewed on {pr}{at} ({len(merged.entries)} change(s))")
    return Verdict(False, f"the plan differs from the preview reviewed on {pr}", compare(review.plan.entries, merged))


def compare(reviewed: tuple[PlanEntry, ...] | None, merged: PlanFingerprint) -> tuple[str, ...]:
    """Lines naming what differs: ``+`` only in the plan now, ``-`` only in the reviewed one."""
    if reviewed is None:
        return ("(the reviewed plan's entries were too large to keep; only its digest is known)",
                *(f"+ {e.describe()}" for e in merged.entries))
    before, after = set(reviewed), set(merged.entries)
    return (*(f"- {e.describe()}" for e in sorted(before - after)), *(f"+ {e.describe()}" for e in sorted(after - before)))
