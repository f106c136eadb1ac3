"""The Pulumi engine's events, translated: progress lines, the resource changes with their values, the resources'
inputs before and after (what the cost estimate prices), the policy pack's events and the summary counts. Works on the
event objects the Automation API hands its ``on_event`` callback; imports no Pulumi module itself."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from automation.engines.port import Progress, resource_op
from automation.model import valuediff
from automation.model.changes import PolicyViolation, ResourceChange
from automation.model.snapshot import Resource

_REPLACE_STEPS = frozenset({"replace", "create-replacement", "delete-replaced"})


class EventCollector:
    """Turns engine events into progress lines and the list of resource changes."""

    def __init__(self, progress: Progress, planning: bool, stateful: Callable[[str, str], bool] | None = None,
                 refreshing: bool = False) -> None:
        self.progress = progress
        self.planning = planning
        #: a refresh preview: the result events say what drifted
        self.refreshing = refreshing
        self.stateful = stateful
        self.changes: dict[str, ResourceChange] = {}
        self.started: dict[str, float] = {}
        self.done: set[str] = set()
        self.counts: dict[str, int] = {}
        self.duration_s: float | None = None
        self.errors: list[str] = []
        #: the stack's outputs from its resource's outputs event (secrets as ``[secret]``); None: not seen
        self.stack_outputs: dict[str, Any] | None = None
        #: every resource's inputs before and after the step (secrets blinded): what the cost estimate prices
        self.before: dict[str, Resource] = {}
        self.after: dict[str, Resource] = {}
        #: the policy pack's violations, as the CLI reported them
        self.policy_events: list[Any] = []

    def violations(self) -> tuple[PolicyViolation, ...]:
        from automation.review.policy import from_cli_event

        known = {**self.before, **self.after}
        return tuple(dict.fromkeys(from_cli_event(e, known) for e in self.policy_events))

    def in_flight(self) -> list[tuple[str, str, str, float]]:
        """Steps started and not finished: (op, type, name, started) for the heartbeat."""
        if self.planning:
            return []
        return [(c.op, c.type, c.name, self.started[urn]) for urn, c in list(self.changes.items())
                if urn not in self.done and c.op not in ("same", "read") and urn in self.started]

    def __call__(self, event: Any) -> None:
        pre, outs, failed = event.resource_pre_event, event.res_outputs_event, event.res_op_failed_event
        if pre is not None:
            meta = pre.metadata
            name = meta.urn.rsplit("::", 1)[-1]
            op = resource_op(meta.op)
            keys, props = _step_changes(meta, op)
            flag = self.stateful(meta.type, name) if self.stateful else None
            earlier = self.changes.get(meta.urn)
            if earlier is not None and {earlier.op, op} & _REPLACE_STEPS:
                # a replacement arrives as several steps of one URN (replace, create-/delete-replaced): one row
                op, keys = "replace", tuple(dict.fromkeys((*earlier.keys, *keys)))
                props = valuediff.merge(earlier.properties, props)
            self.changes[meta.urn] = ResourceChange(meta.urn, meta.type, name, op, keys, stateful=flag, properties=props)
            self.started[meta.urn] = time.monotonic()
            if not self.refreshing:
                old, new = getattr(meta, "old", None), getattr(meta, "new", None)
                if old is not None:
                    self.before[meta.urn] = Resource(meta.urn, meta.type, name, valuediff.normalize(dict(old.inputs or {})),
                                                     bool(getattr(old, "protect", False)))
                if new is not None:
                    self.after[meta.urn] = Resource(meta.urn, meta.type, name, valuediff.normalize(dict(new.inputs or {})),
                                                    bool(getattr(new, "protect", False)))
            if op != "same" and self.planning:
                self.progress.step(op, meta.type, name, "planned")
        elif outs is not None and self.refreshing:
            # a refresh step's result: `same`, or how what the provider read differs from the recorded state
            meta = outs.metadata
            name = meta.urn.rsplit("::", 1)[-1]
            op = resource_op(meta.op)
            # keys only, never values: what was edited out of band is not governed by the program's secret marking
            # (a password typed into a ConfigMap by hand), and drift reports go to GitHub issues
            old_out = getattr(meta.old, "outputs", None) or {}
            new_out = getattr(meta.new, "outputs", None) or {}
            keys = tuple(sorted(k for k in set(old_out) | set(new_out)
                                if not k.startswith("__") and old_out.get(k) != new_out.get(k))) if op != "same" else ()
            flag = self.stateful(meta.type, name) if self.stateful else None
            self.changes[meta.urn] = ResourceChange(meta.urn, meta.type, name, op, keys, stateful=flag)
            self.done.add(meta.urn)
        elif outs is not None and not self.planning:
            meta = outs.metadata
            op = resource_op(meta.op)
            self.done.add(meta.urn)
            if meta.type == "pulumi:pulumi:Stack" and meta.new is not None:
                self.stack_outputs = valuediff.normalize(dict(meta.new.outputs or {}))
            if op != "same":
                began = self.started.get(meta.urn)
                self.progress.step(op, meta.type, meta.urn.rsplit("::", 1)[-1], "done",
                                   time.monotonic() - began if began else None)
        elif failed is not None:
            meta = failed.metadata
            self.done.add(meta.urn)
            self.progress.step(resource_op(meta.op), meta.type, meta.urn.rsplit("::", 1)[-1], "FAILED")
        elif getattr(event, "policy_event", None) is not None:
            self.policy_events.append(event.policy_event)
            pe = event.policy_event
            where = f" ({pe.resource_urn.rsplit('::', 1)[-1]})" if pe.resource_urn else ""
            self.progress.message(f"policy {pe.policy_name} [{pe.enforcement_level}]{where}")
        elif event.diagnostic_event is not None:
            diag = event.diagnostic_event
            text = diag.message.strip()
            if diag.severity == "error":
                self.errors.append(text)
            if diag.severity in ("error", "warning") and text:  # engine and provider diagnostics, redacted
                where = f" ({diag.urn.rsplit('::', 1)[-1]})" if diag.urn else ""
                self.progress.message(f"{diag.severity}{where}: {text.splitlines()[0][:500]}")
        elif event.summary_event is not None:
            self.counts = op_counts(event.summary_event.resource_changes)
            self.duration_s = float(event.summary_event.duration_seconds)


def _step_changes(meta: Any, op: str) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """A step event's changed keys and properties with values (:func:`automation.model.valuediff.step_changes`): the
    provider's detailed diff when it sends one, else the old and new inputs compared."""
    detailed = {path: (str(getattr(d.diff_kind, "value", d.diff_kind)), bool(d.input_diff))
                for path, d in (meta.detailed_diff or {}).items()}
    return valuediff.step_changes(op, getattr(meta.old, "inputs", None), getattr(meta.old, "outputs", None),
                                  getattr(meta.new, "inputs", None), replace_keys=meta.keys or (),
                                  diffs=meta.diffs or (), detailed=detailed)


def op_counts(changes: Mapping[Any, Any] | None) -> dict[str, int]:
    """OpType-keyed (or string-keyed) counts -> {"create": n, ...}."""
    return {str(getattr(k, "value", k)): int(v) for k, v in (changes or {}).items()}


def counts_from_result(result: Any) -> dict[str, int]:
    summary = getattr(result, "change_summary", None) or getattr(getattr(result, "summary", None), "resource_changes", None)
    return op_counts(summary)


#: the AWS SDK's warnings on the CLI's stderr (on every call to an endpoint without checksums, such as moto): noise
