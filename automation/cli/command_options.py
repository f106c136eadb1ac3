"""The options of every command but plan (whose are in automation.cli.options, with what all share): the offline
commands', and the engine commands' -- which engine, where its state and locks are, how long to wait, the deploy
gates' overrides. Loaded only for those commands (automation.cli.main.options_class). Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from automation.cli.options import EventOptions, Options
from automation.model.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class SynthOptions(Options):
    stack: str
    format: str | None = "tree"
    manifests: str | None = None
    policy: bool = False


@dataclass(frozen=True, kw_only=True)
class CostOptions(Options):
    stack: str
    format: str | None = "table"
    date: date | None = None


@dataclass(frozen=True, kw_only=True)
class EnvironmentsOptions(Options):
    branch: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class VersionsOptions(Options):
    stack: str | None = None
    issues: bool = False


@dataclass(frozen=True, kw_only=True)
class DoctorOptions(Options):
    backend_url: str | None = None
    secrets_provider: str | None = None
    pulumi_root: str | None = None


@dataclass(frozen=True, kw_only=True)
class BootstrapOptions(Options):
    region: str
    bucket: str
    repo: str
    prefix: str = "ghost-gitops"
    endpoint_url: str | None = None


def _reason(value: str | None, flag: str) -> str | None:
    if value is not None and not value.strip():
        raise ConfigError(f"{flag} needs a reason (it is recorded in the audit message)")
    return value.strip() if value else None


@dataclass(frozen=True, kw_only=True)
class EngineOptions(Options):
    """Which engine, where its state and locks are, and how long to wait."""

    engine: str = "pulumi"
    backend_url: str | None = None
    secrets_provider: str | None = None
    install_cli: bool = False
    pulumi_root: str | None = None
    state_dir: str | None = None
    memory_step_delay: float = 0.0
    lock_dir: str | None = None
    lock_timeout: float = 1800.0
    busy_attempts: int = 6
    busy_wait: float = 5.0
    heartbeat: float = 60.0
    stop_grace: float = 30.0


@dataclass(frozen=True, kw_only=True)
class GateOptions(Options):
    """The deploy gates' overrides (each reason is recorded in the audit message); off unless a command offers them."""

    allow_dirty: bool = False
    skip_health_check: bool = False
    accept_plan_change: str | None = None
    accept_over_budget: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "accept_plan_change", _reason(self.accept_plan_change, "--accept-plan-change"))
        object.__setattr__(self, "accept_over_budget", _reason(self.accept_over_budget, "--accept-over-budget"))


@dataclass(frozen=True, kw_only=True)
class ExecOptions(EngineOptions, GateOptions):
    """A command that runs a plan's operations (run, preview/up/destroy/refresh, expire)."""


@dataclass(frozen=True, kw_only=True)
class RunOptions(EventOptions, ExecOptions):
    only_stack: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.only_stack is not None and not self.only_stack.strip():
            # what a workflow passes when its matrix value is missing ("$STACK" empty): never "every stack"
            raise ConfigError("--only-stack is empty: name the stack (in a workflow, the matrix job's `stack`; an empty "
                              "value means the plan job's `matrix` output did not reach this job)")


@dataclass(frozen=True, kw_only=True)
class StackOperationOptions(ExecOptions):
    """preview, up, destroy, refresh of one stack (``command`` says which)."""

    stack: str
    sha: str | None = None
    rollback: bool = False
    yes_destroy_environment: bool = False


@dataclass(frozen=True, kw_only=True)
class ExpireOptions(ExecOptions):
    dry_run: bool = False
    now: datetime | None = None
    remote: str = "origin"


@dataclass(frozen=True, kw_only=True)
class ExtendOptions(EngineOptions):
    stack: str
    days: int


@dataclass(frozen=True, kw_only=True)
class DriftOptions(EngineOptions):
    stack: tuple[str, ...] = ()
    remediate: bool = False
    issues: bool = False


@dataclass(frozen=True, kw_only=True)
class RollbackOptions(EngineOptions):
    stack: str
    reason: str
    to: str | None = None
    steps: int = 1
    allow_stateful_changes: bool = False

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ConfigError("rollback needs --reason TEXT (it is recorded in the audit message)")
        object.__setattr__(self, "reason", self.reason.strip())


@dataclass(frozen=True, kw_only=True)
class StatusOptions(EngineOptions):
    stack: str


@dataclass(frozen=True, kw_only=True)
class RecoverOptions(EngineOptions):
    stack: str
    yes: bool = False
    restore_checkpoint: bool = False
    reason: str | None = None

    def __post_init__(self) -> None:
        if not self.yes:
            raise ConfigError("recover changes the state backend (cancels a lock, refreshes): pass --yes")
        if self.restore_checkpoint and not (self.reason or "").strip():
            raise ConfigError("recover --restore-checkpoint needs --reason (recorded with who and when in the bucket)")


@dataclass(frozen=True, kw_only=True)
class HistoryOptions(EngineOptions):
    stack: str
    limit: int = 20


#: subcommand -> its options class (plan's: automation.cli.options)
OPTIONS: dict[str, type[Options]] = {
    "synth": SynthOptions, "cost": CostOptions, "environments": EnvironmentsOptions, "versions": VersionsOptions,
    "doctor": DoctorOptions, "bootstrap": BootstrapOptions,
    "run": RunOptions, "preview": StackOperationOptions, "up": StackOperationOptions, "destroy": StackOperationOptions,
    "refresh": StackOperationOptions, "expire": ExpireOptions, "extend": ExtendOptions, "drift": DriftOptions,
    "rollback": RollbackOptions, "status": StatusOptions, "recover": RecoverOptions, "history": HistoryOptions,
}
