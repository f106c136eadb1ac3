"""THIS project's Pulumi.yaml and stack files on the real Pulumi CLI: `preview` of dev, prod and a personal
stack must get past the CLI's project and config validation. The provider plugins (aws, eks, kubernetes,
random) cannot be built on these machines, so the only acceptable failure is a missing resource plugin: exit 4, and
the engine's one line naming the plugin, its version and how to install it (automation/engines/plugins.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.platform import SHARED_OUTPUTS
from tests.support.gitrepo import project_repo
from tests.support.paths import ROOT
from tests.support.realcli import require_cli

pytestmark = pytest.mark.cli

PASSPHRASE = "real-project-pass"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    choice = require_cli()
    tmp = tmp_path_factory.mktemp("real-project")
    repo = project_repo(tmp / "repo", ROOT)
    (repo / ".gitignore").write_text(".pulumi-state/\nPulumi.dev-*.yaml\n")
    state = tmp / "state"
    state.mkdir()
    return repo, state, choice.path


def _env(state: Path, cli: Path) -> dict[str, str]:
    # the venv's bin first: its `aws` (awscli, requirements-dev.txt) is the aws CLI the pre-flight check wants
    return {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(state.parent), "PULUMI_BACKEND_URL": state.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE, "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "GHOST_GITOPS_PULUMI_ROOT": str(cli.parent.parent)}


def _preview(repo: Path, state: Path, cli: Path, stack: str) -> tuple[int, dict, str]:
    proc = subprocess.run([sys.executable, "-m", "automation", "--project-dir", str(repo), "preview", "--stack", stack,
                           "--json"], cwd=ROOT, env=_env(state, cli), capture_output=True, text=True, timeout=600, check=False)
    report = json.loads(proc.stdout)["reports"][0] if proc.stdout.strip().startswith("{") else {}
    return proc.returncode, report, proc.stderr


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_environment_stacks_pass_the_clis_validation(project: tuple[Path, Path, Path], stack: str) -> None:
    repo, state, cli = project
    code, report, err = _preview(repo, state, cli, stack)
    assert code == 4 and report["status"] == "failed", (code, report, err)
    assert "the Pulumi provider plugin " in report["error"] and "pulumi plugin install resource " in report["error"], report
    assert "Traceback" not in err + report["error"] and "_InactiveRpcError" not in err + report["error"]
    assert "validating stack config" not in err + report["error"] and "missing configuration" not in report["error"]


def test_a_personal_stack_passes_the_clis_validation(project: tuple[Path, Path, Path]) -> None:
    repo, state, cli = project
    # The shared stack must exist in the backend with the outputs a personal stack reads through its
    # StackReference. dev cannot be deployed here (no provider plugins), so its root stack resource and
    # those outputs are imported as state: the values only the cloud knows are stand-ins.
    env = _env(state, cli)
    run = {"cwd": repo, "env": env, "check": True, "capture_output": True, "text": True}
    subprocess.run([str(cli), "stack", "init", "dev", "--non-interactive"], **run)  # type: ignore[call-overload]
    exported = json.loads(subprocess.run([str(cli), "stack", "export", "--stack", "dev"], **run).stdout)  # type: ignore[call-overload]
    outputs: dict[str, object] = {name: f"stand-in-{name}" for name in SHARED_OUTPUTS}
    outputs["dbPort"] = 3306
    exported["deployment"]["resources"] = [{"urn": "urn:pulumi:dev::ghost-gitops::pulumi:pulumi:Stack::ghost-gitops-dev",
                                             "custom": False, "type": "pulumi:pulumi:Stack", "outputs": outputs}]
    state_file = repo.parent / "dev-state.json"
    state_file.write_text(json.dumps(exported))
    subprocess.run([str(cli), "stack", "import", "--stack", "dev", "--file", str(state_file), "--non-interactive"], **run)  # type: ignore[call-overload]
    code, report, err = _preview(repo, state, cli, "dev-alice")
    assert code == 4 and report["status"] == "failed", (code, report, err)
    assert "the Pulumi provider plugin " in report["error"] and "pulumi plugin install resource " in report["error"], report
    assert "Traceback" not in err + report["error"] and "_InactiveRpcError" not in err + report["error"]
    text = (repo / "Pulumi.dev-alice.yaml").read_text()
    assert "organization/ghost-gitops/dev" in text and "- us-east-1a" in text  # arrays stay arrays


def test_a_missing_required_key_is_refused_by_the_cli_as_bad_input(project: tuple[Path, Path, Path], tmp_path: Path) -> None:
    repo, state, cli = project
    stack_file = repo / "Pulumi.prod.yaml"
    original = stack_file.read_text()
    try:
        stack_file.write_text("\n".join(ln for ln in original.splitlines()
                                        if "availabilityZones" not in ln and not ln.startswith("    - us-east-1")) + "\n")
        code, _, err = _preview(repo, state, cli, "prod")
    finally:
        stack_file.write_text(original)
    assert code == 2, err
    assert "availabilityZones" in err and "refused the config of prod" in err
