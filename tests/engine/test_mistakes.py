"""A new user's mistakes, walked through the command line (issue 27): each one is refused with its exit code and
one ``error:`` line naming what is wrong and how to fix it, never a traceback, never silently accepted.

Each case edits a fresh copy of the project (program, stack files, environments.yaml, costs.yaml and the policy
pack) in a git repository, then runs ``main`` in-process as ``python -m automation`` would.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from automation.cli.main import main
from tests.support.gitrepo import git, project_repo
from tests.support.paths import ROOT

Edit = Callable[[Path], None]


def _replace(name: str, old: str, new: str, count: int = 1) -> Edit:
    def edit(repo: Path) -> None:
        text = (repo / name).read_text()
        assert old in text, f"{name} no longer holds {old!r}: update this case"
        (repo / name).write_text(text.replace(old, new, count))
    return edit


def _append(name: str, text: str) -> Edit:
    def edit(repo: Path) -> None:
        with (repo / name).open("a") as fh:
            fh.write(text)
    return edit


def _write(name: str, text: str) -> Edit:
    def edit(repo: Path) -> None:
        (repo / name).write_text(text)
    return edit


_PROD_RULE = "  - branch: production\n    stack: prod\n    kind: environment\n"


@dataclass(frozen=True)
class Mistake:
    id: str
    argv: tuple[str, ...]
    code: int
    says: tuple[str, ...]
    edit: Edit | None = None
    never: tuple[str, ...] = ()
    #: what stdout must still hold (what finished before the error)
    out: tuple[str, ...] = field(default=())


MISTAKES = [
    # silent or false before (issue 27, findings 2-5)
    Mistake("config-namespace-typo", ("synth", "--stack", "dev"), 2,
            ("config key 'ghost-gitop:ghostStorageGb'", "unknown namespace 'ghost-gitop'",
             "did you mean 'ghost-gitops:ghostStorageGb'?", "Fix it in Pulumi.dev.yaml"),
            _append("Pulumi.dev.yaml", "  ghost-gitop:ghostStorageGb: 7\n")),
    Mistake("provider-namespace-typo", ("synth", "--stack", "prod"), 2,
            ("unknown namespace 'aws2'", "did you mean 'aws:region'?"),
            _append("Pulumi.prod.yaml", "  aws2:region: eu-west-1\n")),
    Mistake("costs-usage-key-typo", ("cost", "--stack", "dev"), 2,
            ("costs.yaml: usage.dev.nat_gatway_gb is not a usage key: did you mean `nat_gateway_gb`?",),
            _replace("costs.yaml", "    nat_gateway_gb: 20\n", "    nat_gatway_gb: 20\n")),
    Mistake("hand-written-personal-stack-file", ("synth", "--stack", "dev-bob"), 2,
            ("Pulumi.dev-bob.yaml is not read", "takes its config from Pulumi.dev.yaml",
             "move the settings you need into Pulumi.dev.yaml"),
            _write("Pulumi.dev-bob.yaml", "config:\n  ghost-gitops:ghostStorageGb: 7\n")),
    Mistake("memory-up-of-a-personal-stack-without-its-template", ("up", "--stack", "dev-alice", "--engine", "memory"), 2,
            ("personal stack dev-alice runs on the shared stack dev, which does not exist", "deploy dev first")),
    Mistake("memory-refresh-of-a-stack-never-deployed", ("refresh", "--stack", "dev", "--engine", "memory"), 2,
            ("stack dev does not exist in",)),
    # wrong or unhelpful messages before (findings 6, 8)
    Mistake("key-typo-on-a-personal-stack", ("synth", "--stack", "dev-alice"), 2,
            ("config key 'ghost-gitops:dbInstanceClas'", "did you mean 'ghost-gitops:dbInstanceClass'?",
             "Fix it in Pulumi.dev.yaml (personal stack dev-alice takes its config from stack dev)",
             "rename it to 'ghost-gitops:dbInstanceClass'"),
            _replace("Pulumi.dev.yaml", "ghost-gitops:dbInstanceClass:", "ghost-gitops:dbInstanceClas:"),
            never=("Pulumi.dev-alice.yaml", "pulumi config set ghost-gitops:dbInstanceClas")),
    Mistake("misspelt-secret-key-value-never-shown", ("synth", "--stack", "dev"), 2,
            ("config key 'ghost-gitops:smtpPasword'", "did you mean 'ghost-gitops:smtpPassword'?"),
            _append("Pulumi.dev.yaml", "  ghost-gitops:smtpPasword: s3cr3t-canary-value\n"), never=("s3cr3t-canary-value",)),
    Mistake("bad-value-on-a-personal-stack", ("synth", "--stack", "dev-alice"), 2,
            ("config key 'ghost-gitops:ghostStorageGb' has invalid value", "Fix it in Pulumi.dev.yaml",
             "pulumi config set --stack dev ghost-gitops:ghostStorageGb"),
            _replace("Pulumi.dev.yaml", "ghost-gitops:ghostStorageGb: 5", "ghost-gitops:ghostStorageGb: lots")),
    Mistake("costs-quantity-not-a-number", ("cost", "--stack", "dev"), 2,
            ("costs.yaml: usage.dev.nat_gateway_gb must be a number ≥ 0 (a monthly quantity), not 'lots'",),
            _replace("costs.yaml", "    nat_gateway_gb: 20\n", "    nat_gateway_gb: lots\n")),
    Mistake("enforcement-level-typo", ("environments",), 2,
            ("environments.yaml: environments[0].policy.enforcement.prod-stateful-protected: 'warn' is not an "
             "enforcement level (allowed: mandatory, advisory, disabled)",),
            _replace("environments.yaml", _PROD_RULE,
                     _PROD_RULE + "    policy:\n      enforcement:\n        prod-stateful-protected: warn\n")),
    Mistake("unknown-policy-name-environments", ("environments",), 2,
            ("unknown policy `prod-stateful-protectd` (did you mean `prod-stateful-protected`?)",),
            _replace("environments.yaml", _PROD_RULE,
                     _PROD_RULE + "    policy:\n      enforcement:\n        prod-stateful-protectd: advisory\n")),
    Mistake("unknown-policy-name-plan", ("plan", "--branch", "main", "--sha", "a" * 40, "--changed-file", "Pulumi.yaml"), 2,
            ("unknown policy `rds-backupz`",),
            _replace("environments.yaml", _PROD_RULE,
                     _PROD_RULE + "    policy:\n      waivers:\n        - policy: rds-backupz\n          resource: '*'\n"
                                  "          reason: testing\n")),
    Mistake("unknown-rule-key", ("environments",), 2,
            ("environments[0]: unknown key `protectd` (did you mean `protected`?)",),
            _replace("environments.yaml", "    protected: true\n", "    protectd: true\n")),
    # rough edges (findings 12, 14)
    Mistake("destroy-of-a-protected-stack", ("destroy", "--stack", "prod", "--engine", "memory"), 6,
            ("stack prod is protected", "destroy is refused"), never=("--yes-destroy-environment",)),
    Mistake("one-bad-branch-among-good-ones", ("environments", "main", "dev/Bad_Name", "dev/alice"), 2,
            ("'Bad_Name' is not a safe personal name",),
            out=("branch 'main': rule 2 (main) -> stack dev", "branch 'dev/Bad_Name': refused",
                 "branch 'dev/alice': rule 3 (dev/{name}) -> stack dev-alice")),
    # more of the same kinds
    Mistake("engine-name-typo", ("up", "--stack", "dev", "--engine", "memry"), 2,
            ("argument --engine: invalid choice: 'memry'",)),
    Mistake("unknown-stack", ("cost", "--stack", "staging"), 2, ("unknown stack 'staging'",)),
    Mistake("manifests-into-a-foreign-directory", ("synth", "--stack", "dev", "--manifests", "{repo}/apps"), 2,
            ("the directory holds files synth did not write", "name an empty or new directory")),
]


def _project(tmp_path: Path) -> Path:
    repo = project_repo(tmp_path / "repo", ROOT)
    shutil.copytree(ROOT / "policypack", repo / "policypack", ignore=shutil.ignore_patterns("__pycache__"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "policy pack")
    return repo


@pytest.mark.parametrize("case", MISTAKES, ids=[m.id for m in MISTAKES])
def test_a_mistake_gets_one_error_line_with_the_fix(case: Mistake, tmp_path: Path) -> None:
    repo = _project(tmp_path)
    if case.edit is not None:
        case.edit(repo)
    argv = [a.replace("{repo}", str(repo)) for a in case.argv]
    out, err = io.StringIO(), io.StringIO()
    code = main(["--project-dir", str(repo), *argv, *(["--state-dir", str(tmp_path / "state"), "--lock-dir",
                                                       str(tmp_path / "locks")] if "--engine" in argv and code_ok(argv) else [])],
                environ={"PATH": os.environ.get("PATH", ""), "USER": "newcomer"}, out=out, err=err)
    errors = [ln for ln in err.getvalue().splitlines() if ln.startswith("error:")]
    assert code == case.code, err.getvalue()
    assert len(errors) == 1, err.getvalue()
    for text in case.says:
        assert text in errors[0], (text, errors[0])
    for text in case.never:  # anywhere: the error line, progress on stderr, stdout
        assert text not in out.getvalue() + err.getvalue(), (text, errors[0])
    for text in case.out:
        assert text in out.getvalue(), (text, out.getvalue())
    assert "Traceback" not in out.getvalue() + err.getvalue()


def code_ok(argv: list[str]) -> bool:
    """Engine options are given only where the command parses (an invalid --engine is the case itself)."""
    return "memry" not in argv


def test_synth_manifests_replace_the_previous_stack_s_files(tmp_path: Path) -> None:
    """Finding 11: a second stack's manifests into the same directory leave exactly that stack's files."""
    target, alone = tmp_path / "manifests", tmp_path / "alone"
    for stack in ("prod", "dev-alice"):
        assert main(["synth", "--stack", stack, "--manifests", str(target)], out=io.StringIO(), err=io.StringIO()) == 0
    assert main(["synth", "--stack", "dev-alice", "--manifests", str(alone)], out=io.StringIO(), err=io.StringIO()) == 0
    assert {p.name for p in target.iterdir()} == {p.name for p in alone.iterdir()}
    for path in alone.glob("*.yaml"):
        assert (target / path.name).read_text() == path.read_text()
    assert (target / ".synth-manifests").read_text().startswith("# written by `synth --stack dev-alice --manifests`")


def test_json_is_one_flag_everywhere_and_format_json_its_alias() -> None:
    for argv in (["synth", "--stack", "dev"], ["cost", "--stack", "dev"]):
        a, b = io.StringIO(), io.StringIO()
        assert main([*argv, "--json"], out=a, err=io.StringIO()) == 0
        assert main([*argv, "--format", "json"], out=b, err=io.StringIO()) == 0
        assert json.loads(a.getvalue()) == json.loads(b.getvalue())
        assert json.loads(a.getvalue())["command"] == argv[0]


def test_the_audit_names_git_s_user_when_the_shell_has_no_user(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    git(repo, "config", "user.name", "Dana Operator")
    out = io.StringIO()
    code = main(["--project-dir", str(repo), "up", "--stack", "dev", "--engine", "memory", "--state-dir",
                 str(tmp_path / "state"), "--lock-dir", str(tmp_path / "locks"), "--json", "--skip-health-check"],
                environ={"PATH": os.environ.get("PATH", "")}, out=out, err=io.StringIO())
    assert code == 0
    (report,) = json.loads(out.getvalue())["reports"]
    assert "by Dana Operator" in report["message"] and "unknown" not in report["message"]


def test_a_python_without_the_requirements_gets_one_error_line() -> None:
    """The system python3 (no PyYAML, no pydantic): ``-S`` leaves out site-packages, as a bare interpreter has none."""
    proc = subprocess.run([sys.executable, "-S", "-m", "automation", "environments"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 4, proc.stderr
    assert proc.stderr.startswith("error: the Python package ") and "bash .ci/setup" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_the_engine_runs_from_any_directory(tmp_path: Path) -> None:
    """The ``ghost-gitops`` command (pyproject.toml; installed into .venv by .ci/setup) and ``python -m automation``
    from another directory, both with --project-dir."""
    script = Path(sys.executable).parent / "ghost-gitops"
    assert script.is_file(), f"{script} is missing: `bash .ci/setup` installs it (pip install --no-deps -e .)"
    for argv in ([str(script)], [sys.executable, "-m", "automation"]):
        proc = subprocess.run([*argv, "--project-dir", str(ROOT), "environments", "main"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        assert "branch 'main': rule 2 (main) -> stack dev" in proc.stdout
