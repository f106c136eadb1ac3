"""The engine's own stack tags (``gitops:commit``, ``gitops:health``, ttl extensions), read once per run and written
only when they change (one CLI process per tag), for the Pulumi adapter (:class:`StackTags`, mixed into
:class:`automation.engines.pulumi_engine.PulumiEngine`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from automation.engines.port import Progress, Target
from automation.engines.pulumi_errors import backend_error
from automation.model.errors import StackMissing

TAG_PREFIX = "gitops:"
UNREAD = object()


class StackTags:
    """Tag reading and writing; uses the adapter's plumbing, declared here."""

    root: Path
    backend_url: str
    #: stack -> all its tags as read in this run (None: it does not exist); consumed by the next operation
    _tag_cache: dict[str, dict[str, str] | None]

    def _command(self) -> Any:
        raise NotImplementedError

    def _env(self) -> dict[str, str]:
        raise NotImplementedError

    def _workspace(self) -> Any:
        raise NotImplementedError

    def _read_tags(self, stack: str) -> dict[str, str] | None:
        """All tags of ``stack`` (one ``stack tag ls``), None when the stack does not exist; remembered for the
        operation that follows in this run (an ``up`` then needs no ``stack select`` and no second read).
        :raises CommandError: the backend cannot list tags."""
        from pulumi import automation as auto

        try:
            result = self._command().run(["stack", "tag", "ls", "--json", "--stack", stack, "--non-interactive"],
                                         str(self.root), self._env())
        except auto.StackNotFoundError:
            self._tag_cache[stack] = None
            return None
        parsed = json.loads(result.stdout or "{}")
        tags = {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}
        self._tag_cache[stack] = tags
        return tags

    def _write_tags(self, stack: Any, target: Target, progress: Progress) -> None:
        from pulumi import automation as auto

        try:
            known = self._tag_cache.pop(target.stack, None)
            current = known if known is not None else (stack.list_tags() if target.tags else {})
            for key, value in target.tags.items():
                if current.get(f"{TAG_PREFIX}{key}") != value:  # one CLI process per tag: write only changes
                    stack.set_tag(f"{TAG_PREFIX}{key}", value)
        except auto.CommandError:
            progress.message("note: this backend does not support stack tags; they are recorded in the update message")

    def tags(self, stack: str) -> Mapping[str, str]:
        """The engine's tags of ``stack`` (without the ``gitops:`` prefix); {} for a missing stack."""
        from pulumi import automation as auto

        try:
            listed = self._read_tags(stack)
        except auto.CommandError as exc:
            raise backend_error(f"cannot read the tags of {stack}", exc) from None
        return {k.removeprefix(TAG_PREFIX): v for k, v in (listed or {}).items() if k.startswith(TAG_PREFIX)}

    def set_tags(self, stack: str, tags: Mapping[str, str]) -> None:
        """Write the engine's tags of ``stack`` (only those that changed: one CLI process each)."""
        from pulumi import automation as auto

        try:
            stack_obj = auto.Stack.select(stack, self._workspace())
            current = stack_obj.list_tags()
            for key, value in tags.items():
                if current.get(f"{TAG_PREFIX}{key}") != value:
                    stack_obj.set_tag(f"{TAG_PREFIX}{key}", value)
            self._tag_cache.pop(stack, None)
        except auto.StackNotFoundError:
            raise StackMissing(f"stack {stack} does not exist in {self.backend_url}") from None
        except auto.CommandError as exc:
            raise backend_error(f"cannot write the tags of {stack}", exc) from None
