"""One root error class; each subclass carries the exit code the CLI's error boundary returns.

Exit codes (documented in README.md):

- 0 success, or nothing to do
- 1 an operation (preview/up/destroy/refresh) failed
- 2 bad input: arguments, config, event payload, environments file, unknown stack
- 3 timed out waiting for the stack lock
- 4 a tool is missing or unusable: the Pulumi CLI, or a tool of defaults.tools (the aws CLI)
- 6 a guard refused the operation (rollback touching stateful resources without --allow-stateful-changes)
- 5 drift found (drift only)
- 7 a merge's plan differs from the reviewed one (automation.flow.runner)
- 9 a mandatory policy of the project's policy pack is violated (nothing was applied)
- 8 an up would cross its stack's cost budget (automation.flow.runner; override --accept-over-budget REASON)
- 70 internal error (a bug; --debug shows the traceback)
- (a superseded run -- a newer commit already deployed -- is "nothing to do": exit 0, reported as superseded)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from automation.model.changes import PolicyViolation, ResourceChange


class AutomationError(Exception):
    """Root of every error this package raises on purpose. ``str()`` is the user-facing message."""

    exit_code = 1


class OperationFailed(AutomationError):
    """An operation failed. ``planned``: the changes the engine had planned before it failed (a preview that the
    provider's dry run refused still planned them), so guards and reports can name what it would have done."""

    exit_code = 1

    def __init__(self, message: str, planned: tuple[ResourceChange, ...] = ()) -> None:
        super().__init__(message)
        self.planned = planned


class ConfigError(AutomationError):
    """Bad input of any kind: CLI arguments, stack config, event payloads, the environments file."""

    exit_code = 2


class StackMissing(ConfigError):
    """The stack does not exist in the backend (for refresh, destroy, history)."""


class LockTimeout(AutomationError):
    exit_code = 3


class ToolMissing(AutomationError):
    """A tool the engine needs is missing, broken or too old: the Pulumi CLI, or a tool the project declares
    in ``environments.yaml`` (``defaults.tools``: the aws CLI). Reported before any change is made."""

    exit_code = 4


class PulumiCliMissing(ToolMissing):
    exit_code = 4


class GuardRefused(AutomationError):
    """A safety guard refused the operation (a rollback that would replace or delete stateful resources)."""

    exit_code = 6


class PolicyDenied(AutomationError):
    """The policy pack reported mandatory violations: the CLI stopped the preview or up before any change."""

    exit_code = 9

    def __init__(self, message: str, violations: tuple[PolicyViolation, ...], planned: tuple[ResourceChange, ...] = ()) -> None:
        super().__init__(message)
        self.violations = violations
        self.planned = planned


class InternalError(AutomationError):
    """A bug: an exception nobody planned for. Distinct from a failed deployment (1)."""

    exit_code = 70


class StackBusyError(AutomationError):
    """Another update holds the stack in the state backend (Pulumi's ConcurrentUpdateError). Retried."""


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to a misspelt ``word`` (difflib ratio ≥ 0.6), for "did you mean" hints; None if none is."""
    import difflib

    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None
