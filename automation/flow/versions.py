"""Which versions each environment stack pins, and where they stand in the support calendar (``automation/prices/
lifecycle.yaml``): what ``versions`` prints, ``doctor`` summarizes, and the nightly job turns into one GitHub issue
per stack whose versions leave standard support within the table's ``warn_days`` (opened once, updated, closed
when no version is due). Reading the stack files is the only I/O; the rest is pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from automation.config import lifecycle

if TYPE_CHECKING:
    from automation.adapters.github import GitHubClient
    from automation.config.environments import Environments

#: stack config keys that pin a version of the table, and the table's product for each
PINNED: tuple[tuple[str, Literal["eks", "rds_mysql"]], ...] = (("kubernetesVersion", "eks"),
                                                              ("dbEngineVersion", "rds_mysql"))
LABEL = "ghost-gitops-versions"


@dataclass(frozen=True)
class StackVersions:
    stack: str
    supports: tuple[lifecycle.Support, ...]
    warn_days: int

    def due(self, s: lifecycle.Support) -> bool:
        """Leaves standard support within ``warn_days``, is past it, or is not in the table."""
        return s.phase != "standard" or (s.days_to_end or 0) <= self.warn_days

    @property
    def any_due(self) -> bool:
        return any(self.due(s) for s in self.supports)

    def lines(self) -> list[str]:
        return [s.summary() + (f": {s.upgrade_hint()}" if self.due(s) else "") for s in self.supports]

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "due": self.any_due, "versions": [
            {"product": s.product, "version": s.version, "phase": s.phase, "due": self.due(s),
             "end_standard": s.end_standard.isoformat() if s.end_standard else None,
             "end_extended": s.end_extended.isoformat() if s.end_extended else None,
             "days_to_end_of_standard": s.days_to_end, "upgrade_to": s.successor} for s in self.supports]}

    def issue_body(self, marker: str) -> str:
        rows = "\n".join(f"| {s.name} | {s.phase} | {s.end_standard or '?'} | {s.end_extended or '?'} | "
                         f"{s.upgrade_hint() if self.due(s) else 'nothing to do yet'} |" for s in self.supports)
        return (f"{marker}\nVersions pinned by `{self.stack}` leave (or have left) standard support within "
                f"{self.warn_days} days: after that day the stack pays extended support, or the provider upgrades it "
                "on its own day (config `clusterSupportType`, `dbLifecycleSupport`). Upgrade in a pull request "
                "(Kubernetes one minor at a time). This issue is updated every night and closed when no version is "
                "due.\n\n| Version | Support | End of standard | End of extended | What to do |\n|---|---|---|---|---|\n"
                f"{rows}\n\nDates: `automation/prices/lifecycle.yaml` (each row's source and the day it was checked).")


def stack_versions(root: Path, envs: Environments, stack: str | None = None) -> tuple[StackVersions, ...]:
    """Every environment stack with a stack file (or only ``stack``), with its pinned versions' support today."""
    table, today = lifecycle.load(), lifecycle.today()
    out = []
    for rule in envs.rules:
        if rule.kind != "environment" or (stack is not None and rule.stack != stack):
            continue
        if not (root / f"Pulumi.{rule.stack}.yaml").is_file():
            continue
        values = envs.stack_config(root, rule.stack).values
        supports = tuple(lifecycle.support(table, product, str(v), today) for key, product in PINNED
                         for k, v in values.items() if k.endswith(f":{key}"))
        out.append(StackVersions(rule.stack, supports, table.warn_days))
    return tuple(out)


def sync_issue(gh: GitHubClient, found: StackVersions, redact: Callable[[str], str]) -> str:
    """Open or update the stack's version issue when a version is due, close it when none is; what was done."""
    from automation.adapters.github import GitHubError

    marker = f"<!-- ghost-gitops:versions stack={found.stack} -->"
    try:
        if found.any_due:
            number, what = gh.open_or_update_issue(marker, LABEL, f"Versions of stack {found.stack} leave standard "
                                                   "support soon", redact(found.issue_body(marker)))
            return f"{found.stack}: version issue #{number} {what}"
        closed = gh.close_issue(marker, LABEL, f"No version of `{found.stack}` is due as of {lifecycle.today()}.")
        return f"{found.stack}: version issue #{closed} closed" if closed else f"{found.stack}: no version issue"
    except GitHubError as exc:
        return f"{found.stack}: version issue not updated: {exc}"
