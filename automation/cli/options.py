"""Each command's options: a frozen object built once from the parsed arguments, validated there, with the defaults of
options a command's parser does not offer in one place. The argparse Namespace stops here: commands receive these.

This module holds the options every command has and those of the commands that run no engine (plan among them);
the engine commands' options are in :mod:`automation.cli.engine_options`, loaded only for those commands, so `plan`
does not pay for creating them (issue 29: each frozen dataclass costs about a millisecond to create).

:func:`from_namespace` refuses a parsed option its command's class does not carry (nothing is dropped silently);
``tests/unit/test_options.py`` holds every subcommand's parser and class to each other. Standard library only.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from automation.model.errors import InternalError


@dataclass(frozen=True, kw_only=True)
class Options:
    """What every command has: the subcommand, the project directory, and how to print."""

    command: str
    project_dir: str | None = None
    debug: bool = False
    json: bool = False
    #: synth and cost: --format json is --json
    format: str | None = None

    @property
    def as_json(self) -> bool:
        return self.json or self.format == "json"


@dataclass(frozen=True, kw_only=True)
class EventOptions(Options):
    """The CI event: GitHub's (GITHUB_EVENT_NAME/GITHUB_EVENT_PATH, or --event-name/--event-path), or flags."""

    event_name: str | None = None
    event_path: str | None = None
    branch: str | None = None
    sha: str | None = None
    base: str | None = None
    pr: int | None = None
    title: str | None = None
    author: str | None = None
    before: str | None = None
    deleted: bool = False
    changed_file: tuple[str, ...] | None = None


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
class PlanOptions(EventOptions):
    github_matrix: bool = False


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


#: subcommand -> its options class, for the commands that run no engine
OFFLINE_OPTIONS: dict[str, type[Options]] = {
    "synth": SynthOptions, "cost": CostOptions, "environments": EnvironmentsOptions, "plan": PlanOptions,
    "versions": VersionsOptions, "doctor": DoctorOptions, "bootstrap": BootstrapOptions,
}
#: the commands whose options are in automation.cli.engine_options
ENGINE_COMMANDS = frozenset({"run", "preview", "up", "destroy", "refresh", "expire", "extend", "drift", "rollback", "status",
                             "recover", "history"})
#: options given repeatedly (argparse's lists) become tuples
_REPEATED = ("changed_file", "branch", "stack")


def options_class(command: str) -> type[Options]:
    """The options class of subcommand ``command`` (the engine commands' module is imported only for them)."""
    if command in ENGINE_COMMANDS:
        from automation.cli.engine_options import ENGINE_OPTIONS

        return ENGINE_OPTIONS[command]
    return OFFLINE_OPTIONS[command]


def from_namespace(ns: argparse.Namespace) -> Options:
    """The options of the parsed subcommand. A parsed option its class does not name is a bug (exit 70), never
    dropped."""
    values: dict[str, Any] = dict(vars(ns))
    cls = options_class(values["command"])
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InternalError(f"{values['command']}: the parser gives {', '.join(unknown)}, which {cls.__name__} does not "
                            "carry (automation/cli/options.py, engine_options.py)")
    for name in _REPEATED:
        if isinstance(values.get(name), list):
            values[name] = tuple(values[name])
        elif name in values and values[name] is None:
            del values[name]  # not given: the class's default (() or None)
    return cls(**values)
