"""Command line: parse arguments, run one command, render its result, map errors to exit codes.

This is the one error boundary: every ``AutomationError`` becomes its documented exit code and a
one-line message on stderr; nothing else prints a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from automation.errors import AutomationError, ConfigError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{self.prog}: {message} (see --help)")


def _project_root(arg: str | None) -> Path:
    root = Path(arg) if arg else Path(__file__).resolve().parent.parent
    if not (root / "Pulumi.yaml").is_file():
        raise ConfigError(f"{root} is not a Pulumi project (no Pulumi.yaml); pass --project-dir")
    return root


@dataclass(frozen=True)
class Context:
    """What a command may touch besides its arguments: passed in, so tests need no global patching."""

    environ: Mapping[str, str]
    out: TextIO
    err: TextIO


def cmd_synth(args: argparse.Namespace, ctx: Context) -> int:
    import yaml

    from automation.stackconfig import load_stack_config
    from automation.synth import render_tree, synthesize

    root = _project_root(args.project_dir)
    result = synthesize(root, load_stack_config(root, args.stack))
    if args.manifests:
        target = Path(args.manifests)
        target.mkdir(parents=True, exist_ok=True)
        count = 0
        for res, manifest in result.manifests():
            (target / f"{str(manifest['kind']).lower()}-{res.name}.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
            count += 1
        print(f"wrote {count} Kubernetes manifests to {target}", file=ctx.err)
    if args.format == "json":
        json.dump(result.to_json(), ctx.out, indent=2, sort_keys=True)
        ctx.out.write("\n")
    else:
        ctx.out.write(render_tree(result) + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m automation", description="GitOps engine for the ghost-gitops Pulumi project.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    parser.add_argument("--project-dir", help="the Pulumi project directory (default: this repository)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    synth = sub.add_parser("synth", help="evaluate the program offline for a stack and print what it declares")
    synth.add_argument("--stack", required=True, help="stack name: dev, prod, or a personal dev-<name>")
    synth.add_argument("--format", choices=("tree", "json"), default="tree", help="output format (default: tree)")
    synth.add_argument("--manifests", metavar="DIR", help="also write every Kubernetes object as YAML into DIR")
    synth.set_defaults(func=cmd_synth)
    return parser


Command = Callable[[argparse.Namespace, Context], int]


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None,
         out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one command. Returns the process exit code (see automation.errors)."""
    environ = os.environ if environ is None else environ
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        args = build_parser().parse_args(argv)
        func: Command = args.func
        return func(args, Context(environ=environ, out=out, err=err))
    except AutomationError as exc:
        print(f"error: {exc}", file=err)
        return exc.exit_code
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=err)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(f"internal error: {type(exc).__name__}: {exc} (re-run with --debug for a traceback)", file=err)
        return 1
