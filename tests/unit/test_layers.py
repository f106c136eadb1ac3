"""The engine's layers (README "Architecture"; issue 29): folders that import only downward, held by import-linter's
contracts in pyproject.toml (the fast tier runs `lint-imports`); a deliberate upward import breaks them; modules stay
small."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT

LINT = Path(sys.executable).parent / "lint-imports"
LAYERS = ("model", "config", "review", "engines", "adapters", "flow", "cli")
#: modules still over the 500-line limit, each with the size it may not grow past (issue 29 splits them; the list
#: only shrinks: a module leaving it, or shrinking below its cap by far, must be taken off)
OVERSIZE: dict[str, int] = {}
LIMIT = 500


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    if not LINT.is_file():
        pytest.fail(f"{LINT} is missing: `bash .ci/setup-tests fast` installs import-linter (requirements-dev.txt)")
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "tree"
    dst.mkdir()
    shutil.copytree(ROOT / "automation", dst / "automation", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dst)
    return dst


def test_the_layers_hold() -> None:
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 kept, 0 broken" in proc.stdout


@pytest.mark.parametrize(("module", "upward"), [
    ("model/errors.py", "from automation.cli import main as _up  # noqa: F401\n"),
    ("config/environments.py", "from automation.review import render as _up  # noqa: F401\n"),
    ("engines/synth.py", "from automation.adapters import git as _up  # noqa: F401\n"),
    ("review/policy.py", "import typing\nif typing.TYPE_CHECKING:\n    from automation.flow import runner as _up  # noqa: F401\n"),
])
def test_an_upward_import_breaks_the_contract(tmp_path: Path, module: str, upward: str) -> None:
    """Each layer boundary bites, a type-checking-only import included; and the same copy without the import passes
    (so the failure is the import's, not the copy's)."""
    tree = _copy(tmp_path)
    assert _lint(tree).returncode == 0
    target = tree / "automation" / module
    target.write_text(target.read_text() + "\n" + upward)
    proc = _lint(tree)
    assert proc.returncode == 1, proc.stdout
    assert "BROKEN" in proc.stdout and f"automation.{module[:-3].replace('/', '.')}" in proc.stdout


def test_the_model_imports_no_third_party_library(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    target = tree / "automation" / "model" / "outcome.py"
    target.write_text(target.read_text() + "\nimport yaml as _yaml  # noqa: F401,E402\n")
    proc = _lint(tree)
    assert proc.returncode == 1 and "the model is standard library only BROKEN" in proc.stdout, proc.stdout


def test_a_circle_inside_a_folder_breaks_the_contract(tmp_path: Path) -> None:
    """Two modules of one folder importing each other (even lazily, inside a function): the circle this stop removed
    between cli/options.py and cli/command_options.py, put back."""
    tree = _copy(tmp_path)
    target = tree / "automation" / "cli" / "options.py"
    target.write_text(target.read_text() + "\n\ndef _back() -> object:\n    from automation.cli import command_options\n\n"
                      "    return command_options\n")
    proc = _lint(tree)
    assert proc.returncode == 1 and "no circle between the modules of a folder" in proc.stdout, proc.stdout
    assert "BROKEN" in proc.stdout


def test_only_the_engines_import_the_pulumi_sdk(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    target = tree / "automation" / "review" / "policy.py"
    target.write_text(target.read_text() + "\n\ndef _sdk() -> None:\n    import pulumi  # noqa: F401\n")
    proc = _lint(tree)
    assert proc.returncode == 1 and "only the engines import the Pulumi SDK BROKEN" in proc.stdout, proc.stdout


def test_every_module_stands_in_a_layer_folder() -> None:
    top = sorted(p.name for p in (ROOT / "automation").iterdir() if p.suffix == ".py")
    assert top == ["__init__.py", "__main__.py"], f"modules outside a layer folder: {top}"
    folders = sorted(p.name for p in (ROOT / "automation").iterdir() if p.is_dir() and p.name not in {"__pycache__", "prices"})
    assert folders == sorted(LAYERS)
    for layer in LAYERS:
        init = (ROOT / "automation" / layer / "__init__.py").read_text()
        assert init.startswith('"""') and "import" not in init.replace("imports", ""), f"{layer}/__init__.py: a docstring only"


def test_no_module_grows_past_the_limit() -> None:
    over = {}
    for path in sorted((ROOT / "automation").rglob("*.py")):
        rel = path.relative_to(ROOT / "automation").as_posix()
        lines = len(path.read_text().splitlines())
        cap = OVERSIZE.get(rel, LIMIT)
        if lines > cap:
            over[rel] = (lines, cap)
    assert not over, f"modules over their line cap (lines, cap): {over}; split them by concern"
    for rel in OVERSIZE:
        lines = len((ROOT / "automation" / rel).read_text().splitlines())
        assert lines > LIMIT, f"{rel} has {lines} lines now: take it off OVERSIZE"


#: tests/'s folders (README "Layout"): what each holds
TEST_FOLDERS = ("unit", "engine", "program", "real", "workflows", "support", "data")


def _readme_block(start: str, end: str) -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index(start):readme.index(end)]
    listed: dict[str, str] = {}
    folder = ""
    for line in block.splitlines()[1:]:
        head = re.match(r"^  ([a-z]+)/\s+(.*)$", line)
        if head:
            folder = head[1]
            listed[folder] = head[2]
        elif folder:
            listed[folder] += " " + line.strip()
    return listed


def test_the_readme_layout_names_every_module_and_only_those() -> None:
    """README "Layout": each of automation/'s folders lists exactly its modules (prices/: its files)."""
    listed = _readme_block("automation/        the engine, one folder per layer", "\ntests/ ")
    assert sorted(listed) == sorted([*LAYERS, "prices"])
    for name, text in listed.items():
        words = {w.strip() for w in re.split(r"[,+]", re.sub(r"\([^)]*\)", "", text)) if w.strip()}
        here = ROOT / "automation" / name
        actual = ({p.name for p in here.iterdir() if p.is_file()} if name == "prices"
                  else {p.stem for p in here.glob("*.py") if p.name != "__init__.py"})
        assert words == actual, f"README Layout, automation/{name}/: lists {sorted(words)}, the folder has {sorted(actual)}"


def test_the_platform_names_no_workload() -> None:
    """infra/ builds the platform; the workload (apps/) reads it, never the other way round (issue 29)."""
    import ast

    for path in sorted((ROOT / "infra").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            assert not [n for n in names if n == "apps" or n.startswith("apps.")], f"infra/{path.name} imports {names}"


def test_the_readme_layout_names_every_test_module_and_only_those() -> None:
    """README "Layout", tests/: each folder lists exactly its modules (data/ and support/'s folders: their entries)."""
    listed = _readme_block("tests/             pytest", "\nbenchmarks/ ")
    assert sorted(listed) == sorted(TEST_FOLDERS)
    for name, text in listed.items():
        text = re.sub(r"\([^)]*\)", "", text)
        text = text.split(":", 1)[1] if ":" in text else text
        words = {w.strip() for w in text.split(",") if w.strip()}
        here = ROOT / "tests" / name
        actual = ({p.name for p in here.iterdir() if p.name != "__pycache__"} if name == "data"
                  else {p.stem for p in here.glob("*.py") if p.name != "__init__.py"}
                  | {f"{p.name}/" for p in here.iterdir() if p.is_dir() and p.name != "__pycache__"})
        assert words == actual, f"README Layout, tests/{name}/: lists {sorted(words)}, the folder has {sorted(actual)}"


def test_tests_live_in_their_folders_and_share_only_support() -> None:
    """No test module at tests/'s top; the real-software folder's modules all carry a tier mark; a test imports only
    tests.support (never another test module), and benchmarks likewise."""
    import ast

    assert not sorted(p.name for p in (ROOT / "tests").glob("test_*.py")), "a test module belongs in a folder"
    for path in sorted((ROOT / "tests" / "real").glob("test_*.py")):
        assert re.search(r"^pytestmark = pytest\.mark\.(cli|k8s|db|act)$", path.read_text(), re.M), path.name
    for path in sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]):
        if "data" in path.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if isinstance(node, ast.ImportFrom) and node.module == "tests":
                names = [f"tests.{a.name}" for a in node.names]
            bad = [n for n in names if n.startswith("tests.") and not n.startswith("tests.support")]
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}: shared helpers belong in tests/support/"
