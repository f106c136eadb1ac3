"""Reports for people (PR comment, job summary, terminal) and machines (JSON). Pure functions.

One comment per pull request and stack, found again by a hidden marker. The summary (counts, the
stateful call-outs and the replacements with the properties that force them) is always kept; the
changed-resources table and then the changed values (``path``: old → new, multi-line values as a small
unified diff) are trimmed, saying so, so that the whole comment stays under GitHub's 65,536-character limit.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from automation.model.changes import PolicyViolation, PropertyChange, ResourceChange
from automation.model.health import HealthResult
from automation.model.outcome import Outcome
from automation.review.cost_model import CostChange
from automation.review.costrender import budget_warning, cost_markdown, cost_text
from automation.review.redact import Redactor

COMMENT_LIMIT = 65_536
#: policy violations listed at the top of a comment (the rest counted; `--json` has all)
POLICY_ROWS = 40
#: Headroom under GitHub's limit (multi-byte characters, the marker, future edits).
SAFE_LIMIT = 64_000
OP_ORDER = ("create", "update", "replace", "delete", "same")
OP_LABEL = {"create": "create", "update": "update", "replace": "replace", "delete": "delete", "same": "unchanged",
            "create-replacement": "replace", "delete-replaced": "replace", "read": "read", "refresh": "refresh"}
STATUS_ICON = {"succeeded": "✅", "failed": "❌", "superseded": "⏭️", "skipped": "⏭️", "none": "➖", "drifted": "⚠️",
               "refused": "🛑", "over-budget": "💸", "policy-denied": "⛔", "unhealthy": "🚑", "interrupted": "✋", "remediated": "🩹"}


class Status(StrEnum):
    """What became of one planned operation (a str, so JSON and comparisons see the plain value)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SUPERSEDED = "superseded"  # a newer commit is already deployed: nothing done, on purpose
    SKIPPED = "skipped"  # an earlier error stopped the run before it
    NONE = "none"  # nothing to do
    DRIFTED = "drifted"  # drift: the cloud differs from the recorded state
    REMEDIATED = "remediated"  # drift --remediate: it drifted and was re-applied
    REFUSED = "refused"  # a merge whose plan is not the reviewed one
    OVER_BUDGET = "over-budget"  # an up whose cost estimate would cross the stack's budget
    POLICY_DENIED = "policy-denied"  # the policy pack reported a mandatory violation: nothing applied
    UNHEALTHY = "unhealthy"  # deployed, but its health check failed
    INTERRUPTED = "interrupted"  # SIGINT/SIGTERM


def marker(stack: str) -> str:
    return f"<!-- ghost-gitops:report stack={stack} -->"


@dataclass(frozen=True)
class Report:
    """The result of one planned operation, ready to render."""

    stack: str | None
    operation: str
    status: Status
    reason: str
    outcome: Outcome | None = None
    offline: bool = False
    commit: str | None = None
    message: str | None = None
    error: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: a cloud preview on a pull request: the hidden plan fingerprint kept in its comment (automation.review.fingerprint)
    plan_marker: str | None = None
    #: the post-deploy health check, and what the automatic rollback did about an unhealthy result
    health: HealthResult | None = None
    rollback: str | None = None
    #: the monthly cost estimate before and after (automation.review.cost), when the engine reported the resources
    cost: CostChange | None = None
    #: the policy pack's violations (mandatory first; waived ones last, with their reason) and how many policies
    #: ran (None: the project has no pack, or the operation runs none)
    policy: tuple[PolicyViolation, ...] = ()
    policies_ran: int | None = None

    @property
    def failed(self) -> bool:
        return self.status in (Status.FAILED, Status.UNHEALTHY)

    def to_json(self) -> dict[str, Any]:
        out = self.outcome
        return {
            "stack": self.stack, "operation": self.operation, "status": self.status, "reason": self.reason,
            "offline": self.offline, "commit": self.commit, "message": self.message, "error": self.error,
            "notes": list(self.notes),
            "counts": dict(out.counts) if out else {},
            "changes": [{"urn": c.urn, "type": c.type, "name": c.name, "op": c.op, "keys": list(c.keys),
                         "properties": [p.to_json() for p in c.properties],
                         "replaced_by": [p.path for p in c.replaced_by]}
                        for c in (out.changes if out else ()) if c.op != "same"],
            "outputs": dict(out.outputs) if out else {},
            "duration_s": round(out.duration_s, 3) if out else 0.0,
            "health": self.health.to_json() if self.health else None,
            "rollback": self.rollback,
            "cost": self.cost.to_json() if self.cost else None,
            "policy": None if self.policies_ran is None and not self.policy else {
                "policies": self.policies_ran or 0, "violations": [v.to_json() for v in self.policy]},
        }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def _counts_table(counts: Mapping[str, int]) -> str:
    merged: dict[str, int] = {}
    for op, n in counts.items():
        label = OP_LABEL.get(op, op)
        merged[label] = merged.get(label, 0) + n
    ordered = [OP_LABEL[o] for o in OP_ORDER] + sorted(k for k in merged if k not in {OP_LABEL[o] for o in OP_ORDER})
    return "| " + " | ".join(ordered) + " |\n|" + "---|" * len(ordered) + "\n| " + \
        " | ".join(str(merged.get(k, 0)) for k in ordered) + " |"


_REPLACE_OPS = frozenset({"replace", "create-replacement", "delete-replaced"})


def _ranked(changes: Iterable[ResourceChange]) -> list[ResourceChange]:
    """Changed resources, destructive first, then by type and name."""
    rank = {op: i for i, op in enumerate(("delete", "replace", "delete-replaced", "create-replacement", "update", "create"))}
    return sorted((c for c in changes if c.op not in ("same", "read")), key=lambda c: (rank.get(c.op, 9), c.type, c.name))


def _change_rows(changes: Iterable[ResourceChange]) -> list[str]:
    shown = _ranked(changes)
    return [f"| {OP_LABEL.get(c.op, c.op)}{' ⚠️' if c.stateful_loss else ''} | `{_cell(c.type)}` | `{_cell(c.name)}` | "
            f"{_cell(', '.join(c.keys)) or ''} |" for c in shown]


#: a value longer than this is shortened (with a marker saying how much was left out)
VALUE_WIDTH = 160
#: the replacements listed at the top of a comment (the rest are in the table)
REPLACEMENTS = 50
#: a multi-line value's unified diff shows at most this many lines
DIFF_LINES = 40
_SIGN = {"create": "+", "update": "~", "delete": "-", "replace": "+-", "create-replacement": "+-",
         "delete-replaced": "+-", "read": ">", "refresh": "~", "import": "="}


def short(text: str | None, width: int = VALUE_WIDTH) -> str:
    """A value for one line: ``(none)`` when absent, newlines shown as ``\\n``, shortened past ``width``."""
    if text is None:
        return "(none)"
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    if len(text) <= width:
        return text
    keep = width - 40
    return f"{text[:keep]}… [{len(text) - keep:,} more characters]"


def multiline(p: PropertyChange) -> bool:
    return "\n" in (p.old or "") or "\n" in (p.new or "")


def unified(p: PropertyChange, max_lines: int = DIFF_LINES) -> list[str]:
    """A small unified diff of a multi-line value (a script, a config file in a ConfigMap)."""
    lines = [ln for ln in difflib.unified_diff((p.old or "").splitlines(), (p.new or "").splitlines(), lineterm="", n=1)
             ][2:]
    lines = [ln if len(ln) <= VALUE_WIDTH else short(ln) for ln in lines]
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], f"… {len(lines) - max_lines} more diff lines"]
    return lines


def property_lines(p: PropertyChange) -> list[str]:
    """``path: old → new`` (``(forces replacement)`` when it does), or the path and a unified diff."""
    mark = " (forces replacement)" if p.forces_replacement else ""
    if multiline(p):
        return [f"{p.path}:{mark}"] + [f"  {ln}" for ln in unified(p)]
    return [f"{p.path}: {short(p.old)} → {short(p.new)}{mark}"]


def change_text(changes: Iterable[ResourceChange]) -> str:
    """The readable diff for the job log: one line per changed resource (``~ type name [keys]``), then each
    changed property with its values, indented."""
    lines: list[str] = []
    for c in changes:
        if c.op == "same":
            continue
        lines.append(f"{_SIGN.get(c.op, '?')} {c.type} {c.name}" + (f" [{', '.join(c.keys)}]" if c.keys else ""))
        lines.extend(f"      {ln}" for p in c.properties for ln in property_lines(p))
    return "\n".join(lines)


def _code(text: str) -> str:
    """Inline code that a value cannot break out of (backticks in it, table pipes, newlines)."""
    text = text.replace("|", "\\|")
    ticks = max((len(m) for m in re.findall(r"`+", text)), default=0) + 1
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{'`' * ticks}{pad}{text}{pad}{'`' * ticks}"


def _value_cell(text: str | None) -> str:
    return "*(none)*" if text is None else _code(short(text))


def _forced_by(c: ResourceChange) -> str:
    """``because `path` `old` → `new`, ...`` for a replacement whose forcing properties are known."""
    props = c.replaced_by
    if not props:
        return ""
    shown = [f"{_code(p.path)} ({'multi-line value' if multiline(p) else _value_cell(p.old) + ' → ' + _value_cell(p.new)})"
             for p in props[:5]]
    more = f" and {len(props) - 5} more" if len(props) > 5 else ""
    return " because of " + ", ".join(shown) + more


def _value_block(c: ResourceChange) -> str:
    """One resource's changed values: a table, then the unified diffs of multi-line values."""
    rows = [f"| {_code(p.path)}{' ⚠️ forces replacement' if p.forces_replacement else ''} | "
            + ("*(multi-line, below)*" if multiline(p) else _value_cell(p.old)) + " | "
            + ("" if multiline(p) else _value_cell(p.new)) + " |" for p in c.properties]
    fence = "~~~~"
    diffs = [f"{_code(p.path)}:\n\n{fence}diff\n" + "\n".join(unified(p)).replace(fence, "~~~") + f"\n{fence}"
             for p in c.properties if multiline(p)]
    head = f"**{OP_LABEL.get(c.op, c.op)}** `{_cell(c.type)}` `{_cell(c.name)}`"
    return "\n\n".join([head, "| Property | Before | After |\n|---|---|---|\n" + "\n".join(rows), *diffs])


def render_markdown(report: Report, *, limit: int = SAFE_LIMIT, redact: Redactor | None = None) -> str:
    """The PR comment / job summary for one report, at most ``limit`` characters."""
    redact = redact or Redactor()
    stack = report.stack or "(none)"
    if report.status == Status.NONE:
        return redact(f"{marker(stack)}\n\n### {STATUS_ICON['none']} Nothing to do for `{stack}`\n\n**Reason:** {_cell(report.reason)}")
    kind = "Offline structural diff" if report.offline else f"Pulumi {report.operation}"
    icon = STATUS_ICON.get(report.status, "")
    head = [marker(stack) + (f"\n{report.plan_marker}" if report.plan_marker else ""),
            f"### {icon} {kind}: `{stack}` {report.status}"]
    if report.offline:
        head.append("> [!NOTE]\n> **Offline**: no cloud preview could run (a fork pull request or no credentials). "
                    "This compares what the program declares at the base commit with the pull request's head, "
                    "evaluated offline; values only the cloud knows are not compared.")
    out = report.outcome
    if report.policy:
        head.append(_policy_block(report))
    warning = budget_warning(report.cost) if report.cost is not None else None
    if warning:
        head.append("> [!CAUTION]\n> " + warning)
    losses = [c for c in (out.changes if out else ()) if c.stateful_loss]
    if losses:
        head.append("> [!WARNING]\n> **Stateful resources will be replaced or deleted:** " +
                    ", ".join(f"`{_cell(c.type)}` `{_cell(c.name)}` ({OP_LABEL.get(c.op, c.op)}{_forced_by(c)})"
                              for c in losses))
    replaced = [c for c in (out.changes if out else ()) if c.op in _REPLACE_OPS and not c.stateful_loss]
    if replaced:
        listed = [f"- `{_cell(c.type)}` `{_cell(c.name)}`"
                  f"{_forced_by(c) or ' (the provider did not say which property forces it)'}" for c in replaced[:REPLACEMENTS]]
        if len(replaced) > REPLACEMENTS:
            listed.append(f"- … {len(replaced) - REPLACEMENTS} more replacements (in the table below)")
        head.append("**Replacements:**\n" + "\n".join(listed))
    meta = [f"**Reason:** {_cell(report.reason)}"]
    if report.commit:
        meta.append(f"**Commit:** `{report.commit[:7]}`")
    if report.message:
        meta.append(f"**Audit message:** {_cell(report.message)}")
    if out is not None and out.duration_s:
        meta.append(f"**Took:** {out.duration_s:.1f}s")
    if report.policies_ran is not None:
        meta.append(f"**Policy pack:** {report.policies_ran} policies, {sum(1 for v in report.policy if not v.waived)} "
                    "violation(s)")
    head.append(" · ".join(meta))
    if report.error:
        head.append(f"**Error:** {_cell(report.error)}")
    if report.health is not None:
        h = report.health
        head.append(f"**Health:** {'healthy' if h.healthy else 'UNHEALTHY'} ({_cell(h.detail)})")
    if report.rollback:
        head.append(f"**Automatic rollback:** {_cell(report.rollback)}")
    head.extend(f"> {_cell(n)}" for n in report.notes)
    body: list[str] = []
    if out is not None:
        body.append(_counts_table(out.counts))
    if report.cost is not None:
        body.append(cost_markdown(report.cost))
    if out is not None:
        rows = _change_rows(out.changes)
        if rows:
            body.append("#### Changed resources\n\n| Operation | Type | Name | Changed keys |\n|---|---|---|---|")
    else:
        rows = []
    fixed = redact("\n\n".join(head + body))
    footer = "\n\n<sub>ghost-gitops engine · this comment is updated in place on every push</sub>"
    # Keep every summary line; trim table rows only if the table alone would not fit.
    budget = limit - len(fixed) - len(footer) - 400
    table_lines: list[str] = []
    for i, row in enumerate(rows):
        row = redact(row)
        if len(row) + 1 > budget:
            table_lines.append(f"| … | {len(rows) - i} more changes not shown | | |")
            budget = 0
            break
        table_lines.append(row)
        budget -= len(row) + 1
    text = fixed + ("\n" + "\n".join(table_lines) if table_lines else "")
    blocks = [c for c in _ranked(out.changes if out is not None else ()) if c.properties]
    if blocks:
        # the values come last and are what gets cut: the summary, the replacements and the table stay
        title = "\n\n#### Changed values\n\n" + ("Secret values are shown as `[secret]`; values only the cloud "
                                                 "knows as `[unknown]`.")
        room = limit - len(text) - len(footer) - len(title) - 200
        shown: list[str] = []
        for i, c in enumerate(blocks):
            block = redact(_value_block(c))
            if len(block) + 2 > room:
                rest = sum(len(b.properties) for b in blocks[i:])
                shown.append(f"… {rest:,} more changed values of {len(blocks) - i} resource(s) not shown "
                             "(the job log and `--json` have them all)")
                break
            shown.append(block)
            room -= len(block) + 2
        if shown:
            text += title + "\n\n" + "\n\n".join(shown)
    return text + footer


def _policy_block(report: Report) -> str:
    """Violations at the top: mandatory first, each with resource, policy, message and how to fix; waived last."""
    active = [v for v in report.policy if not v.waived]
    waived = [v for v in report.policy if v.waived]
    mandatory = sum(1 for v in active if v.level == "mandatory")
    kind = "CAUTION" if mandatory else "WARNING"
    lines = [f"> [!{kind}]", f"> **Policy violations:** {mandatory} mandatory, {len(active) - mandatory} advisory"
             + (f", {len(waived)} waived" if waived else "")]
    for v in active[:POLICY_ROWS]:
        icon = "🛑" if v.level == "mandatory" else "⚠️"
        lines.append(f"> - {icon} **{v.level}** `{_cell(v.policy)}` on `{_cell(v.name)}`"
                     + (f" (`{_cell(v.type)}`)" if v.type else "") + f": {_cell(v.message)}"
                     + (f" — **fix:** {_cell(v.fix)}" if v.fix else ""))
    if len(active) > POLICY_ROWS:
        lines.append(f"> - … {len(active) - POLICY_ROWS} more (`--json` lists them all)")
    lines += [f"> - waived `{_cell(v.policy)}` on `{_cell(v.name)}`: {_cell(v.message)} (reason: {_cell(v.waived or '')})"
              for v in waived[:POLICY_ROWS]]
    return "\n".join(lines)


def render_text(report: Report, redact: Redactor | None = None) -> str:
    """One line per report for the terminal, then the changed values of each updated or replaced resource."""
    redact = redact or Redactor()
    counts = ""
    if report.outcome is not None:
        counts = " (" + (", ".join(f"{n} {OP_LABEL.get(op, op)}" for op, n in sorted(report.outcome.counts.items()) if n)
                         or "no changes") + ")"
    where = report.stack or "-"
    extra = [f"error: {report.error}"] if report.error else []
    extra += [f"health: {'healthy' if report.health.healthy else 'UNHEALTHY'} ({report.health.detail})"] \
        if report.health else []
    extra += [f"rollback: {report.rollback}"] if report.rollback else []
    lines = [f"{report.operation:<8} {where:<16} {report.status}{counts}: {report.reason}"
             + "".join(f" | {e}" for e in extra)]
    lines += [f"  {n}" for n in report.notes if report.status in (Status.REFUSED, Status.OVER_BUDGET, Status.UNHEALTHY,
                                                               Status.INTERRUPTED)]
    for v in report.policy:
        state = f"waived: {v.waived}" if v.waived else v.level
        lines.append(f"  policy {v.policy} [{state}] {v.name}: {v.message}")
    if report.cost is not None:
        lines += [f"  {ln}" for ln in cost_text(report.cost)]
    valued = [c for c in _ranked(report.outcome.changes if report.outcome else ()) if c.properties]
    lines += [f"  {ln}" for ln in change_text(valued).splitlines()]
    return redact("\n".join(lines))
