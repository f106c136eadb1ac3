"""The Automation API's classes without the CLI processes this engine does not need (a lean Command, Workspace and
Stack). Imports ``pulumi.automation`` when first asked, like the adapter."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any


@functools.cache
def lean_types() -> Any:
    """The Automation API's classes without the CLI processes this engine does not need. Stack.up, refresh and
    destroy end with ``stack output --json``, ``stack output --json --show-secrets`` (plaintext secrets into this
    process) and ``stack history``; selecting a stack runs ``stack select``; PulumiCommand runs ``pulumi version``.
    The engine has what those calls return from the event stream (outputs with secrets blinded, the summary
    event's counts), from the tags it just read (the stack exists) and from the version it checked
    (toolchain.known_cli_version). Everything else is the SDK's own code."""
    from pulumi.automation import LocalWorkspace, PulumiCommand, Stack, UpdateSummary
    from pulumi.automation._stack import StackInitMode  # Stack's constructor argument; the enum is not re-exported
    from semver import VersionInfo

    class Command(PulumiCommand):
        """A PulumiCommand for a CLI whose version the engine checked: the base constructor only runs `version`."""

        def __init__(self, command: str, version: VersionInfo) -> None:  # no super().__init__(): it runs the CLI
            self.command = command
            self.version = version

    class Workspace(LocalWorkspace):
        """``select_stack`` is free for a stack this run just saw exist (every command passes ``--stack``);
        outputs are never read here (the engine takes them from the event stream)."""

        def __init__(self, *, existing: set[str], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.existing = existing

        def select_stack(self, stack_name: str) -> None:
            if stack_name not in self.existing:
                super().select_stack(stack_name)

        def stack_outputs(self, stack_name: str) -> Any:
            return {}

    class LeanStack(Stack):
        """``info()`` (a ``stack history`` call after every operation) answered without the CLI: the engine reads
        the operation's counts and duration from the summary event."""

        def info(self, show_secrets: bool = True) -> Any:
            now = datetime.now(UTC)
            return UpdateSummary(kind="update", start_time=now, message="", environment={}, config={},
                                 result="succeeded", end_time=now)

    return SimpleNamespace(Command=Command, Workspace=Workspace, Stack=LeanStack, Mode=StackInitMode)
