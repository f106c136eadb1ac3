"""Request + environments + changed files -> the operations to run, each with its reason. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from automation.adapters.git import ChangedFiles
from automation.config.environments import Environments, Route, touches_infra
from automation.model.errors import ConfigError, GuardRefused
from automation.model.request import PR_ACTIONS, Request

if TYPE_CHECKING:
    from automation.model.outcome import HistoryEntry, StackInfo

OperationName = Literal["preview", "up", "destroy", "refresh", "none"]
StackKind = Literal["environment", "personal"]
#: The keys of one operation in `plan` output (a contract: see tests/unit/test_plan.py).
OPERATION_KEYS = ("stack", "operation", "reason", "branch", "sha", "pull_request")


@dataclass(frozen=True)
class Operation:
    stack: str | None
    operation: OperationName
    reason: str
    branch: str | None = None
    sha: str | None = None
    pull_request: int | None = None
    kind: StackKind | None = None
    #: run without the cloud: the offline structural diff (fork pull requests)
    offline: bool = False
    #: deploy even if a newer commit of the branch is already deployed (an explicit rollback)
    allow_older: bool = False
    protected: bool = False

    @property
    def mutating(self) -> bool:
        return self.operation in ("up", "destroy", "refresh")

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "operation": self.operation, "reason": self.reason, "branch": self.branch,
                "sha": self.sha, "pull_request": self.pull_request}


@dataclass(frozen=True)
class Plan:
    event: str
    operations: tuple[Operation, ...]
    changed_files_source: str | None = None
    #: things a person should know that are not operations (a personal stack about to expire)
    notices: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"operations": [op.to_json() for op in self.operations]}
        doc["event"] = self.event
        if self.changed_files_source:
            doc["changed_files_source"] = self.changed_files_source
        if self.notices:
            doc["notices"] = list(self.notices)
        return doc

    def github_matrix(self) -> dict[str, Any]:
        """One matrix job per stack with something to do (GitHub rejects an empty include: check `has_work`)."""
        return {"include": [op.to_json() for op in self.operations if op.operation != "none"]}

    @property
    def actionable(self) -> tuple[Operation, ...]:
        return tuple(op for op in self.operations if op.operation != "none")


def _none(request: Request, reason: str) -> Plan:
    pr = request.pull_request.number if request.pull_request else None
    return Plan(request.event, (Operation(stack=None, operation="none", reason=reason, branch=request.branch,
                                          sha=request.sha, pull_request=pr),))


def _op(route: Route, operation: OperationName, reason: str, request: Request, **kw: Any) -> Operation:
    pr = request.pull_request.number if request.pull_request else None
    return Operation(stack=route.stack, operation=operation, reason=reason, branch=route.branch, sha=request.sha,
                     pull_request=pr, kind=route.kind, protected=route.rule.protected, **kw)


def plan(request: Request, envs: Environments, changes: ChangedFiles | None = None) -> Plan:
    """What to do for ``request``. Unhandled events and unmatched branches plan to ``none`` with a reason.

    :raises ConfigError: an unsafe branch name or an unknown stack in a manual dispatch.
    """
    if request.event in ("push", "manual"):
        return _plan_push(request, envs, changes)
    if request.event == "pull_request":
        return _plan_pull_request(request, envs)
    if request.event == "delete":
        return _plan_delete(request, envs)
    if request.event == "schedule":
        ops = []
        for stack in envs.environment_stacks():
            route = envs.by_stack(stack)
            assert route is not None
            ops.append(Operation(stack=stack, operation="preview", branch=route.branch, kind="environment",
                                 reason="scheduled drift check: preview against the deployed state"))
        return Plan("schedule", tuple(ops))
    if request.event == "workflow_dispatch":
        return _plan_dispatch(request, envs)
    return _none(request, f"event {request.action!r} is not handled by the engine")


def _plan_push(request: Request, envs: Environments, changes: ChangedFiles | None) -> Plan:
    if request.branch is None:
        return _none(request, "push to a tag or other non-branch ref: nothing to deploy")
    if request.action == "deleted":
        return _none(request, "branch deletion push: the delete event handles it")
    route = envs.route(request.branch)
    if route is None:
        return _none(request, f"no rule in {envs.source} matches branch {request.branch!r}")
    source = changes.source if changes else None
    if request.created_branch and not (changes is not None and changes.since_deployed):
        reason = f"new branch {route.branch}: the whole stack is deployed"
    elif changes is not None and changes.files is not None:
        infra = touches_infra(route.infra_paths, changes.files)
        if not infra:
            return Plan(request.event, (_op(route, "none", f"no infrastructure path changed ({len(changes.files)} file(s) "
                                                           f"changed, from {changes.source})", request),), source)
        reason = f"push to {route.branch}: {len(infra)} infrastructure file(s) changed (from {changes.source})"
    else:
        why = changes.source if changes else "changed files unknown"
        reason = f"push to {route.branch}: {why}, so the whole stack is deployed"
    if route.kind == "personal":
        reason = f"personal environment {route.stack} created/updated: " + reason
    return Plan(request.event, (_op(route, "up", reason, request),), source)


def _plan_pull_request(request: Request, envs: Environments) -> Plan:
    pr = request.pull_request
    assert pr is not None
    if request.action not in PR_ACTIONS:
        return _none(request, f"pull_request action {request.action!r} needs no preview")
    if request.action == "closed":
        return _none(request, f"pull request #{pr.number} merged: the push to {pr.base} deploys it" if pr.merged
                     else f"pull request #{pr.number} closed without merging")
    if pr.draft and request.action != "ready_for_review":
        return _none(request, f"pull request #{pr.number} is a draft: it is previewed when marked ready for review")
    route = envs.route(pr.base)
    if route is None:
        return _none(request, f"no rule in {envs.source} matches the base branch {pr.base!r}")
    if pr.from_fork:
        return Plan(request.event, (_op(route, "preview", f"pull request #{pr.number} from a fork: no cloud credentials, "
                                                          "offline structural diff only", request, offline=True),))
    return Plan(request.event, (_op(route, "preview", f"pull request #{pr.number} into {pr.base} ({request.action})", request),))


def _plan_delete(request: Request, envs: Environments) -> Plan:
    if request.branch is None:
        return _none(request, f"deleted {request.action or 'ref'} is not a branch: nothing to do")
    route = envs.route(request.branch)
    if route is None:
        return _none(request, f"no rule in {envs.source} matches deleted branch {request.branch!r}")
    if route.kind == "environment":
        return Plan(request.event, (_op(route, "none", f"deleting environment branch {route.branch!r} never destroys "
                                                       f"stack {route.stack}", request),))
    if not route.rule.auto_destroy:
        return Plan(request.event, (_op(route, "none", f"auto_destroy is off for {route.rule.branch!r}: "
                                                       f"stack {route.stack} is kept", request),))
    return Plan(request.event, (_op(route, "destroy", f"personal branch {route.branch!r} deleted: destroy and remove "
                                                      f"stack {route.stack}", request),))


def _plan_dispatch(request: Request, envs: Environments) -> Plan:
    if request.dispatch_stack:
        route = envs.by_stack(request.dispatch_stack)
        if route is None:
            raise ConfigError(f"unknown stack {request.dispatch_stack!r}: {envs.source} maps no branch to it")
    elif request.branch:
        route = envs.route(request.branch)
        if route is None:
            return _none(request, f"no rule in {envs.source} matches branch {request.branch!r}")
    else:
        raise ConfigError("workflow_dispatch needs a `stack` input or a branch ref")
    operation = request.dispatch_operation or "up"
    if operation == "destroy" and route.kind == "environment":
        raise ConfigError(f"refusing to destroy environment stack {route.stack!r} from a workflow; "
                          "environments are never destroyed by the engine")
    who = f" by {request.actor}" if request.actor else ""
    if request.rollback:
        assert request.sha is not None
        reason = f"rollback of {route.stack} to {request.sha[:7]} requested{who}"
        return Plan(request.event, (_op(route, "up", reason, request, allow_older=True),))
    return Plan(request.event, (_op(route, operation, f"manual {operation} of {route.stack}{who}", request),))  # type: ignore[arg-type]


def manual(envs: Environments, stack: str, operation: OperationName, *, sha: str | None, actor: str,
           rollback: bool = False, destroy_environment: bool = False) -> Plan:
    """A person's operation on one stack (``preview``/``up``/``refresh``/``destroy --stack S``), planned with the
    same rules as events: an environment is destroyed only when asked explicitly, a protected stack never.

    :raises ConfigError: an unknown stack, a bad SHA, or an environment destroy without ``destroy_environment``.
    :raises GuardRefused: a destroy of a protected stack (exit 6), before any flag is asked for.
    """
    from automation.model.request import SHA

    route = envs.by_stack(stack)
    if route is None:
        raise ConfigError(f"unknown stack {stack!r}: no rule in {envs.source} maps a branch to it "
                          f"(known: {', '.join(envs.environment_stacks())}, and personal stacks)")
    if operation == "destroy" and route.rule.protected:  # refused whatever the flags: say so before asking for one
        raise GuardRefused(f"stack {stack} is protected (environments.yaml, rule {route.rule.branch!r}: protected: true): "
                           "destroy is refused; remove `protected` from its rule in a reviewed change first")
    if operation == "destroy" and route.kind == "environment" and not destroy_environment:
        raise ConfigError(f"{stack} is an environment stack: destroying it needs --yes-destroy-environment")
    if sha is not None and not SHA.match(sha):
        raise ConfigError("--sha must be a full 40-character commit SHA")
    op = Operation(stack=route.stack, operation=operation, reason=f"manual {operation} of {route.stack} by {actor}",
                   branch=route.branch, sha=sha, kind=route.kind, protected=route.rule.protected,
                   allow_older=operation == "up" and rollback)
    return Plan("manual", (op,))


#: the engine's stack tag holding an extension of a personal stack's ttl (ISO 8601 time, UTC)
EXTENDED_TAG = "expires-after"


def expiry(info: StackInfo, ttl_days: int, extended: datetime | None) -> datetime | None:
    """When a personal stack expires: its ttl counted from its last deployment, or a later extension."""
    if info.last_update is None:
        return extended
    last = info.last_update if info.last_update.tzinfo else info.last_update.replace(tzinfo=UTC)
    due = last + timedelta(days=ttl_days)
    return max(due, extended) if extended is not None else due


def expired(envs: Environments, stacks: Iterable[StackInfo], now: datetime, *, branches: frozenset[str] | None = None,
            extensions: Mapping[str, datetime] | None = None) -> Plan:
    """Destroy personal stacks (rules with ``auto_destroy`` only) past their ttl -- counted from the last deployment,
    or until an extension -- and those whose branch no longer exists on the remote (when ``branches`` is known).
    Stacks within ``ttl_warn_days`` of expiring get a notice. Environment stacks are never touched."""
    ops: list[Operation] = []
    notices: list[str] = []
    for info in sorted(stacks, key=lambda s: s.name):
        route = envs.by_stack(info.name)
        if route is None or route.kind != "personal" or not route.rule.auto_destroy:
            continue
        if branches is not None and route.branch not in branches:
            ops.append(Operation(stack=info.name, operation="destroy", branch=route.branch, kind="personal",
                                 reason=f"personal stack {info.name}: its branch {route.branch!r} no longer exists on "
                                        "the remote"))
            continue
        if not route.rule.ttl_days:
            continue
        due = expiry(info, route.rule.ttl_days, (extensions or {}).get(info.name))
        if due is None:
            continue
        if now >= due:
            last = info.last_update
            idle = f"idle for {(now - last).days} days" if last else "never deployed"
            extended = " (after its extension)" if (extensions or {}).get(info.name) == due else ""
            ops.append(Operation(stack=info.name, operation="destroy", branch=route.branch, kind="personal",
                                 reason=f"personal stack {info.name} {idle}, past its ttl of {route.rule.ttl_days} "
                                        f"days{extended}"))
        elif now >= due - timedelta(days=route.rule.ttl_warn_days):
            left = due - now
            notices.append(f"personal stack {info.name} expires at {due:%Y-%m-%d %H:%M} UTC (in {left.days}d "
                           f"{left.seconds // 3600}h): push to {route.branch} or run `python -m automation extend "
                           f"--stack {info.name} --days N` to keep it")
    if not ops:
        ops.append(Operation(stack=None, operation="none", reason="no personal stack is past its ttl or without its branch"))
    return Plan("expire", tuple(ops), notices=tuple(notices))


def rollback_commit(history: Iterable[HistoryEntry], to: str | None = None, steps: int = 1) -> tuple[str, str]:
    """(current, target) commits of a rollback, from the stack's history (newest first): ``to`` if given (it must
    have been deployed successfully), else the ``steps``-th distinct successfully deployed commit before the current.

    :raises ConfigError: nothing deployed, nothing to roll back to, or ``to`` never deployed.
    """
    deployed = [e.commit for e in history if e.kind == "update" and e.result == "succeeded" and e.commit]
    if not deployed:
        raise ConfigError("nothing to roll back: the stack has no successful deployment with a recorded commit")
    current = deployed[0]
    if to is not None:
        matches = [c for c in deployed if c == to or (len(to) >= 7 and c.startswith(to))]
        if not matches:
            raise ConfigError(f"--to {to}: that commit was never deployed successfully to this stack (see `history`)")
        if matches[0] == current:
            raise ConfigError(f"--to {to}: that commit is the one deployed now")
        return current, matches[0]
    distinct: list[str] = []
    for commit in deployed:
        if commit != current and commit not in distinct:
            distinct.append(commit)
    if len(distinct) < steps:
        raise ConfigError(f"nothing to roll back to: only {len(distinct)} earlier deployed commit(s), --steps {steps}")
    return current, distinct[steps - 1]
