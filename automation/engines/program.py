"""Run a project's ``__main__.py`` as a Pulumi inline program, with that project's own modules only.

The Go module proxy does not serve the Python language host (``pulumi-language-python``), so the
engine runs every project in its own process through the Automation API's ``program=`` (which needs
no language host). The CLI still reads ``Pulumi.yaml`` and the stack file from the work directory
and validates them as for any project. Tests and production take this same path.

Modules of the project's top-level packages (``infra``, ``apps`` ...) are purged from
``sys.modules`` before each run, so a run at one commit never reuses code imported from another.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Callable
from pathlib import Path

#: The engine's own packages (this repository holds both the engine and the program): never purged.
ENGINE_PACKAGES = frozenset({"automation", "tests", "benchmarks"})


def top_level_modules(root: Path) -> frozenset[str]:
    """Program names importable from ``root``: its packages and ``.py`` modules (not ``__main__``, not the engine)."""
    names = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    names |= {p.stem for p in root.glob("*.py") if p.stem != "__main__"}
    return frozenset(names - ENGINE_PACKAGES)


def purge(names: frozenset[str]) -> None:
    for mod in [m for m in sys.modules if m.split(".", 1)[0] in names]:
        del sys.modules[mod]


def inline_program(root: Path) -> Callable[[], None]:
    """A ``PulumiFn`` running ``root/__main__.py`` as ``__main__`` with ``root`` first on ``sys.path``."""
    root = root.resolve()
    main = root / "__main__.py"

    def program() -> None:
        names = top_level_modules(root)
        purge(names)
        entry = str(root)
        if entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)
        runpy.run_path(str(main), run_name="__main__")

    return program
