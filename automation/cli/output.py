"""The one renderer: every command's result, for people (text) and for machines (JSON).

Commands return frozen results (:mod:`automation.cli.results`); :func:`render` turns one into what stdout
shows. Text renderers are chosen by the result's type through one dispatch table; JSON is the
result's ``to_json()`` with ``schema_version`` and ``command`` added. Everything passes the redactor.
The PR comment and job summary of a report are :mod:`automation.review.render`'s (markdown).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import singledispatch
from typing import TYPE_CHECKING, Any

from automation.cli.results import (
    SCHEMA_VERSION,
    BootstrapOutput,
    CostOutput,
    DoctorOutput,
    EnvironmentsOutput,
    ExtendOutput,
    HistoryOutput,
    PlanOutput,
    ReportsOutput,
    StatusOutput,
    SynthOutput,
    VersionsOutput,
)
from automation.review.redact import Redactor

if TYPE_CHECKING:
    from automation.engines.synth import RecordedResource, SynthResult
    from automation.model.outcome import HistoryEntry


def envelope(result: Any) -> dict[str, Any]:
    """The JSON of a result: its own keys, the schema version and the command."""
    return {"schema_version": SCHEMA_VERSION, "command": result.command, **result.to_json()}


def render(result: Any, *, as_json: bool, redact: Callable[[str], str] | None = None) -> str:
    """What stdout shows for ``result`` (ending with a newline, or empty)."""
    redact = redact or Redactor()
    if isinstance(result, PlanOutput) and result.github_matrix:
        return json.dumps(result.to_json(), separators=(",", ":")) + "\n"  # what GitHub's fromJSON reads
    if as_json or isinstance(result, PlanOutput):
        return redact(json.dumps(envelope(result), indent=2, default=str)) + "\n"
    text = text_of(result)
    return redact(text) + "\n" if text else ""


@singledispatch
def text_of(result: Any) -> str:
    raise TypeError(f"no text renderer for {type(result).__name__}")


@text_of.register
def _(result: SynthOutput) -> str:
    text = render_tree(result.synth)
    if result.policies_ran is None:
        return text
    active = [v for v in result.policy if not v.waived]
    mandatory = sum(1 for v in active if v.level == "mandatory")
    lines = [text, f"policy pack: {result.policies_ran} policies ran on {len(result.synth.resources)} resources: "
             f"{mandatory} mandatory, {len(active) - mandatory} advisory violation(s)"
             + (f", {len(result.policy) - len(active)} waived" if len(active) < len(result.policy) else "")]
    for v in result.policy:
        state = f"waived: {v.waived}" if v.waived else v.level
        lines.append(f"  [{state}] {v.policy}: {v.name} ({v.type}): {v.message}")
        if not v.waived:
            lines.append(f"      fix: {v.fix}")
    return "\n".join(lines)


@text_of.register
def _(result: CostOutput) -> str:
    from automation.review.costrender import estimate_table

    return estimate_table(result.estimate, result.budget)


@text_of.register
def _(result: EnvironmentsOutput) -> str:
    envs = result.environments
    rows = [("#", "branch", "stack", "kind", "options")]
    for i, rule in enumerate(envs.rules, 1):
        opts = [f"template={rule.template}"] if rule.template else []
        opts += ["auto_destroy"] if rule.auto_destroy else []
        opts += [f"ttl={rule.ttl_days}d"] if rule.ttl_days else []
        opts += ["protected"] if rule.protected else []
        opts += [f"reviewed_plan={rule.reviewed_plan}"] if rule.reviewed_plan != "check" else []
        opts += ["health"] if rule.health else []
        opts += ["auto_rollback"] if rule.auto_rollback else []
        opts += ["drift_remediation"] if rule.drift_remediation else []
        opts += ["own infra_paths"] if rule.infra_paths is not None else []
        rows.append((str(i), rule.branch, rule.stack, rule.kind, " ".join(opts) or "-"))
    widths = [max(len(r[c]) for r in rows) for c in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.append(f"infra paths (default): {', '.join(envs.infra_paths)}")
    for branch, route in result.routes:
        if isinstance(route, str):
            lines.append(f"branch {branch!r}: refused: {route}")
        elif route is None:
            lines.append(f"branch {branch!r}: no rule matches (nothing is deployed)")
        else:
            lines.append(f"branch {branch!r}: rule {route.rule_index + 1} ({route.rule.branch}) -> stack {route.stack} "
                         f"({route.kind})")
    return "\n".join(lines)


@text_of.register
def _(result: ReportsOutput) -> str:
    from automation.review.render import render_text

    return "\n".join(render_text(report) for report in result.reports)


@text_of.register
def _(result: HistoryOutput) -> str:
    return render_history(result.stack, result.entries)


@text_of.register
def _(result: StatusOutput) -> str:
    status = result.status
    lines = [f"stack {status.stack}: " + ("locked" if status.locks else "not locked")
             + f", {len(status.pending_operations)} pending operation(s)"]
    lines += [f"  lock: pid {lock['pid']} of {lock['username']} on {lock['hostname']} since {lock['timestamp']}"
              + {True: " (running)", False: " (not running: stale)", None: ""}[lock["alive"]] for lock in status.locks]
    lines += [f"  pending: {op['type']} {op['urn']}" for op in status.pending_operations]
    lines.append(f"  {status.advice}")
    return "\n".join(lines)


@text_of.register
def _(result: DoctorOutput) -> str:
    width = max(len(c.name) for c in result.checks)
    return "\n".join(f"{c.name.ljust(width)}  {c.status:<7}  {c.detail}" for c in result.checks)


@text_of.register
def _(result: VersionsOutput) -> str:
    lines = []
    for s in result.stacks:
        lines.append(f"{s.stack}: " + ("DUE" if s.any_due else "ok") + f" (warned {s.warn_days} days ahead)")
        lines += [f"  {x}" for x in s.lines()]
    lines += list(result.issues)
    return "\n".join(lines) or "no environment stacks"


@text_of.register
def _(result: BootstrapOutput) -> str:
    done = result.result
    lines = [("changed: " if done.changed else "nothing to change: ")
             + f"{sum(s.action != 'unchanged' for s in done.steps)} of {len(done.steps)} settings",
             f"PULUMI_BACKEND_URL    {done.backend_url}", f"--secrets-provider    {done.secrets_provider}"]
    lines += [f"AWS_ROLE_ARN ({environment:<11}) {arn}   (GitHub environment `{environment}`, variable AWS_ROLE_ARN)"
              for environment, arn in done.role_arns.items()]
    return "\n".join(lines)


@text_of.register
def _(result: ExtendOutput) -> str:
    return f"{result.stack} is kept until at least {result.expires_after} (extended by {result.by})"


def render_tree(result: SynthResult) -> str:
    """The resource tree, one line per resource: indentation follows parents; type and name shown."""
    known = {r.urn for r in result.resources}
    children: dict[str | None, list[RecordedResource]] = {}
    for res in sorted(result.resources, key=lambda r: (r.type, r.name)):
        children.setdefault(res.parent if res.parent in known else None, []).append(res)
    lines = [f"stack {result.stack} ({result.source}): {len(result.resources)} resources"]

    def walk(parent: str | None, depth: int) -> None:
        for res in children.get(parent, []):
            lines.append(f"{'  ' * (depth + 1)}{res.type}  {res.name}")
            walk(res.urn, depth + 1)

    walk(None, 0)
    lines.append("outputs:")
    for key, value in sorted(result.outputs.items()):
        lines.append(f"  {key}: {value if isinstance(value, str) else _short(value)}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


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
