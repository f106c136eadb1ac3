"""The memory engine answers stacks that do not exist as the real engine does (issue 27, finding 5): one contract,
run through ``python -m automation`` on both engines with the fixture project (tests/data/fixture_project) in a fresh git
repository where nothing was ever deployed. The real engine's side runs in the cli tier (the real Pulumi CLI with a
``file://`` backend); the memory engine's in the fast tier.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import gitrepo
from tests.support.paths import FIXTURE_PROJECT, ROOT
from tests.support.realcli import require_cli

#: (arguments, exit code, what stdout + stderr says): the README's "Stacks the engine writes and never"
CONTRACT = [
    (["refresh", "--stack", "dev"], 2, "stack dev does not exist in"),
    (["destroy", "--stack", "dev-bob"], 0, "nothing to destroy"),
    (["drift", "--stack", "dev"], 0, "dev is not deployed"),
    (["up", "--stack", "dev-alice"], 2, "runs on the shared stack dev, which does not exist in"),
    (["preview", "--stack", "dev-alice"], 2, "deploy dev first"),
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("missing")
    path = tmp / "repo"
    shutil.copytree(FIXTURE_PROJECT, path, ignore=shutil.ignore_patterns("__pycache__"))
    (path / "Pulumi.dev.yaml").write_text(f"config:\n  fixture:cloudDir: {tmp / 'cloud'}\n  fixture:zones: [a, b]\n")
    gitrepo.git(path, "init", "-q", "-b", "main")
    gitrepo.git(path, "add", "-A")
    gitrepo.git(path, "commit", "-q", "-m", "fixture")
    return path


def _engine_args(engine: str, repo: Path) -> tuple[list[str], dict[str, str]]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(repo.parent / "home"), "LANG": "C.UTF-8",
           "PULUMI_CONFIG_PASSPHRASE": "contract-pass", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
           "USER": "contract"}
    if engine == "memory":
        return ["--engine", "memory", "--state-dir", str(repo.parent / f"state-{engine}")], env
    cli = require_cli()
    env["GHOST_GITOPS_PULUMI_ROOT"] = str(cli.path.parent.parent)
    return ["--backend-url", (repo.parent / "backend").as_uri()], env


@pytest.mark.parametrize("engine", ["memory", pytest.param("pulumi", marks=pytest.mark.cli)])
@pytest.mark.parametrize(("argv", "code", "says"), CONTRACT, ids=[" ".join(c[0]) for c in CONTRACT])
def test_a_stack_that_does_not_exist_is_answered_alike(engine: str, argv: list[str], code: int, says: str,
                                                       repo: Path) -> None:
    extra, env = _engine_args(engine, repo)
    (repo.parent / "backend").mkdir(exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "automation", "--project-dir", str(repo), *argv, *extra,
                           "--lock-dir", str(repo.parent / f"locks-{engine}"), "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode == code, text
    assert says in text, text
    assert "Traceback" not in text
    if code == 0:
        (report,) = json.loads(proc.stdout)["reports"]
        assert report["status"] == "none", report
    else:
        assert [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")] == [proc.stderr.strip().splitlines()[-1]]
    history = subprocess.run([sys.executable, "-m", "automation", "--project-dir", str(repo), "history", "--stack",
                              argv[2], "--json", *extra], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=300, check=False)
    assert history.returncode == 0 and json.loads(history.stdout)["updates"] == [], "nothing was written"
