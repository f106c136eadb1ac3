"""The real-CLI tier of the act scenarios' test repository (tests/data/act_repository/README.md): its deploy gate runs
it with the project's real test command (`bash .ci/test cli`), on the CLI the job installed (pulumi/actions)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from automation.engines.toolchain import PULUMI_CLI_VERSION

pytestmark = pytest.mark.cli


def test_the_installed_cli_is_the_pinned_release_and_keeps_a_secret_encrypted(tmp_path: Path) -> None:
    cli = shutil.which("pulumi")
    assert cli, "no Pulumi CLI on PATH: the job installs it with pulumi/actions"
    pinned = f"v{PULUMI_CLI_VERSION}"  # the engine's pin, which the workflows' pulumi/actions steps install
    env = {**os.environ, "PULUMI_BACKEND_URL": tmp_path.as_uri(), "PULUMI_CONFIG_PASSPHRASE": "gate-test-pass-phrase",
           "PULUMI_SKIP_UPDATE_CHECK": "true", "PULUMI_HOME": str(tmp_path / "home")}

    def run(*args: str) -> str:
        return subprocess.run([cli, *args, "--non-interactive"], cwd=tmp_path, env=env, check=True, capture_output=True,
                              text=True).stdout

    assert subprocess.run([cli, "version"], capture_output=True, text=True, check=True).stdout.strip() == pinned
    (tmp_path / "Pulumi.yaml").write_text("name: gate\nruntime: python\n")
    run("stack", "init", "gate")
    run("config", "set", "--secret", "token", "gate-canary")
    assert "gate-canary" not in (tmp_path / "Pulumi.gate.yaml").read_text()
    assert run("config", "get", "token").strip() == "gate-canary"
