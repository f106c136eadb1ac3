"""An engine with no cloud: the same interface as the Pulumi adapter, state kept in a directory.

Its "program" is the offline synth of the real stack (or any function given), so `preview` and `up`
report the real program's creates, updates and deletes against what was "deployed" before. Used by
the tests (including real-process races) and by `--engine memory` for a dry run of the whole flow.
Failures can be injected per operation to exercise retries and error paths.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from automation.engines.port import Progress, Target
from automation.model.changes import ResourceChange
from automation.model.errors import ConfigError, OperationFailed, StackBusyError, StackMissing
from automation.model.outcome import HistoryEntry, Outcome, StackInfo
from automation.model.snapshot import Resource, Snapshot, count, diff, from_json, snapshot, to_json
from automation.review.render import change_text

Program = Callable[[Target], tuple[Snapshot, Mapping[str, Any]]]


def synth_program(root: Path) -> Program:
    def run(target: Target) -> tuple[Snapshot, Mapping[str, Any]]:
        from automation.engines.synth import synthesize

        result = synthesize(root, target.config)
        return snapshot(Resource(r.urn, r.type, r.name, r.inputs, r.protect) for r in result.resources), result.outputs
    return run


class MemoryEngine:
    #: nothing it "deploys" answers: health checks do not apply
    runs_applications = False
    runs_policy_pack = False  # the runner evaluates the pack's functions on the synth, as offline

    def __init__(self, state_dir: Path, program: Program, *, step_delay_s: float = 0.0,
                 failures: Mapping[str, list[BaseException | None]] | None = None) -> None:
        """
        :param state_dir: where stacks' state, history and an activity log live (shared across processes).
        :param program: what the stack declares (default in the CLI: the offline synth).
        :param step_delay_s: seconds each mutating operation takes (to make races observable).
        :param failures: operation name -> exceptions to raise on successive calls (None = succeed).
        """
        self.state_dir = state_dir
        self.program = program
        self.step_delay_s = step_delay_s
        self.failures = {k: list(v) for k, v in (failures or {}).items()}
        self.calls: list[tuple[str, str]] = []
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ConfigError(f"--state-dir {state_dir}: a file is in the way; the state directory must be a directory") from None
        except OSError as exc:
            raise ConfigError(f"--state-dir {state_dir}: cannot create it ({exc.strerror})") from None

    # -- state --------------------------------------------------------------------------------
    def _path(self, stack: str) -> Path:
        return self.state_dir / f"{stack}.json"

    def _load(self, stack: str) -> dict[str, Any]:
        path = self._path(stack)
        if not path.exists():
            return {"resources": {}, "history": [], "outputs": {}}
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def _save(self, stack: str, state: dict[str, Any]) -> None:
        tmp = self._path(stack).with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
        os.replace(tmp, self._path(stack))

    def _activity(self, stack: str, what: str) -> None:
        with (self.state_dir / "activity.log").open("a") as log:
            log.write(f"{time.time():.6f} {os.getpid()} {stack} {what}\n")

    def _inject(self, operation: str) -> None:
        queue = self.failures.get(operation)
        if queue:
            failure = queue.pop(0)
            if failure is not None:
                raise failure

    # -- operations -----------------------------------------------------------------------------
    def _run(self, operation: str, target: Target, progress: Progress, desired: Snapshot | None,
             outputs: Mapping[str, Any]) -> Outcome:
        start = time.monotonic()
        self.calls.append((operation, target.stack))
        self._inject(operation)
        state = self._load(target.stack)
        new = desired if desired is not None else {}
        old = from_json(state["resources"])
        changes = diff(old, new)
        counts, text = count(changes), change_text(changes)
        mutating = operation != "preview"
        if mutating:
            self._activity(target.stack, f"start {operation}")
        try:
            for change in changes:
                if change.op != "same":
                    progress.step(change.op, change.type, change.name, "planned" if not mutating else "done")
            if mutating and self.step_delay_s:
                time.sleep(self.step_delay_s)
            self._inject(f"{operation}:mid")  # a failure in the middle of an update
        except StackBusyError:
            raise
        except Exception as exc:
            if mutating:
                self._record(target, state, operation, "failed", counts, start)
                self._activity(target.stack, f"end {operation}")
            raise OperationFailed(f"{operation} of {target.stack} failed: {exc}") from exc
        if mutating:
            state["resources"] = to_json(new)
            state["outputs"] = dict(outputs) if operation != "destroy" else {}
            self._record(target, state, operation, "succeeded", counts, start)
            if operation == "destroy":
                self._path(target.stack).unlink(missing_ok=True)
            self._activity(target.stack, f"end {operation}")
        duration = time.monotonic() - start
        progress.summary(target.stack, operation, counts, duration, True)
        priced = operation in ("preview", "up")
        return Outcome(stack=target.stack, operation=operation, succeeded=True, changes=changes, counts=counts,
                       diff=text, outputs=dict(outputs), duration_s=duration, before=old if priced else None,
                       after=dict(new) if priced else None)

    def _record(self, target: Target, state: dict[str, Any], operation: str, result: str, counts: Mapping[str, int],
                start: float) -> None:
        now = datetime.now(UTC)
        state["history"].append({
            "version": len(state["history"]) + 1, "kind": "update" if operation == "up" else operation, "result": result,
            "started": (now.timestamp() - (time.monotonic() - start)), "ended": now.timestamp(), "message": target.message,
            "counts": dict(counts), "commit": target.commit,
        })
        if operation != "destroy" or result != "succeeded":
            self._save(target.stack, state)

    # Missing stacks are answered as the Pulumi engine answers them (tests/engine/test_contract.py runs both): refresh,
    # drift and destroy of a stack that does not exist raise StackMissing; a personal stack whose shared stack is
    # not deployed is refused before its program runs.
    def _existing(self, stack: str) -> dict[str, Any]:
        if not self._path(stack).exists():
            raise StackMissing(f"stack {stack} does not exist in {self.state_dir}")
        return self._load(stack)

    def _shared_deployed(self, target: Target) -> None:
        personal = target.config.personal
        if personal is not None and not self._path(personal.template).exists():
            raise StackMissing(f"personal stack {target.stack} runs on the shared stack {personal.template}, which does "
                               f"not exist in {self.state_dir}: deploy {personal.template} first")

    def preview(self, target: Target, progress: Progress) -> Outcome:
        self._shared_deployed(target)
        desired, outputs = self.program(target)
        return self._run("preview", target, progress, desired, outputs)

    def up(self, target: Target, progress: Progress) -> Outcome:
        self._shared_deployed(target)
        desired, outputs = self.program(target)
        return self._run("up", target, progress, desired, outputs)

    def refresh(self, target: Target, progress: Progress) -> Outcome:
        state = self._existing(target.stack)
        return self._run("refresh", target, progress, from_json(state["resources"]), state["outputs"])

    def drift(self, target: Target, progress: Progress) -> Outcome:
        """The memory engine has no cloud that could drift: its state is all there is."""
        state = self._existing(target.stack)
        changes = tuple(ResourceChange(urn, r["type"], r["name"], "same") for urn, r in sorted(state["resources"].items()))
        return Outcome(stack=target.stack, operation="drift", succeeded=True, changes=changes, counts=count(changes))

    def destroy(self, target: Target, progress: Progress) -> Outcome:
        self._existing(target.stack)
        return self._run("destroy", target, progress, None, {})

    def history(self, stack: str, limit: int) -> tuple[HistoryEntry, ...]:
        entries = self._load(stack)["history"][-limit:]
        return tuple(HistoryEntry(version=e["version"], kind=e["kind"], result=e["result"],
                                  started=datetime.fromtimestamp(e["started"], UTC),
                                  ended=datetime.fromtimestamp(e["ended"], UTC) if e.get("ended") else None,
                                  message=e["message"], counts=e["counts"], commit=e.get("commit"))
                     for e in reversed(entries))

    def preflight(self, tools: tuple[str, ...]) -> None:
        return None  # the memory engine runs no provider, so it needs no tool

    def unavailable(self) -> None:
        """Always available: it needs no cloud."""
        return None

    def writable(self) -> None:
        return None  # its state directory was checked when it was created

    def stacks(self) -> tuple[StackInfo, ...]:
        infos = []
        for path in sorted(self.state_dir.glob("*.json")):
            history = json.loads(path.read_text())["history"]
            last = datetime.fromtimestamp(history[-1]["ended"], UTC) if history else None
            infos.append(StackInfo(name=path.stem, last_update=last))
        return tuple(infos)

    def release(self, stack: str) -> str:
        """The memory engine holds no backend lock."""
        return f"no lock left on {stack}"

    def tags(self, stack: str) -> Mapping[str, str]:
        """The engine's tags of ``stack`` (without the prefix); {} for a missing stack."""
        return dict(self._load(stack).get("tags", {})) if self._path(stack).exists() else {}

    def set_tags(self, stack: str, tags: Mapping[str, str]) -> None:
        if not self._path(stack).exists():
            raise StackMissing(f"stack {stack} does not exist in {self.state_dir}")
        state = self._load(stack)
        state["tags"] = {**state.get("tags", {}), **tags}
        self._save(stack, state)

    def deployed_commit(self, stack: str, *, from_history: bool = False) -> str | None:
        for entry in reversed(self._load(stack)["history"]):
            if entry["kind"] == "update" and entry["result"] == "succeeded":
                commit: str | None = entry.get("commit")
                return commit
        return None
