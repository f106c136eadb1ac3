"""Provider plugins (issue 27, finding 7): ``doctor`` checks each plugin the program needs, and a plugin the CLI can
neither find nor download is one ``error:`` line naming it, its version and how to install it (exit 4), not a report
holding the program's gRPC tracebacks. The last test runs the real CLI on a project whose plugin is not installed.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from automation.cli.main import main
from automation.engines.plugins import PROGRAM_SDKS, Plugin, locate, missing_plugin, required
from tests.support import gitrepo
from tests.support.paths import ROOT
from tests.support.realcli import require_cli

# The CLI's own wording (pulumi 3.274.1: sdk/go/common/workspace/plugins.go, whose plugins_test.go expects the first
# two; pkg/workspace/plugin.go InstallPluginError for the third), with this program's plugins.
NOT_FOUND = ("error: no resource plugin 'pulumi-resource-aws' found in the workspace at version v7.51.1 or on your $PATH, "
             "install the plugin using `pulumi plugin install resource aws v7.51.1`")
NOT_FOUND_NO_VERSION = "no resource plugin 'pulumi-resource-random' found in the workspace or on your $PATH"
NO_DOWNLOAD = ("Could not automatically download and install resource plugin 'pulumi-resource-eks' at version v4.4.0, "
               "install the plugin using `pulumi plugin install resource eks v4.4.0`: error downloading plugin: "
               "dial tcp: lookup get.pulumi.com: no such host")


@pytest.mark.parametrize(("text", "plugin"), [
    (NOT_FOUND, Plugin("resource", "aws", "7.51.1")),
    (NOT_FOUND_NO_VERSION, Plugin("resource", "random", None)),
    (NO_DOWNLOAD, Plugin("resource", "eks", "4.4.0")),
    ("error: update failed: resource x: some other failure", None),
])
def test_the_cli_s_plugin_messages_are_recognised(text: str, plugin: Plugin | None) -> None:
    assert missing_plugin(text) == plugin
    if plugin is not None:
        assert plugin.install_command() == f"pulumi plugin install resource {plugin.name}" + (
            f" v{plugin.version}" if plugin.version else "")


def test_the_program_s_plugins_come_from_its_pinned_sdks() -> None:
    pins = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                if line.startswith("pulumi-") and "==" in line)
    assert {f"pulumi-{p.name}" for p in required() if isinstance(p, Plugin)} == set(pins), "PROGRAM_SDKS vs requirements.txt"
    for plugin in required():
        assert isinstance(plugin, Plugin), plugin
        assert plugin.version == pins[f"pulumi-{plugin.name}"], "the SDK asks for its own version's plugin"
    assert len(PROGRAM_SDKS) == 4
    assert required(("not_an_sdk",)) == ("not_an_sdk is not installed (pip install -r requirements.txt)",)


def test_locate_finds_the_plugin_where_the_cli_would(tmp_path: Path) -> None:
    aws = Plugin("resource", "aws", "7.51.1")
    env = {"PULUMI_HOME": str(tmp_path / "home"), "PATH": str(tmp_path / "bin")}
    status, detail = locate(aws, env)
    assert status == "missing" and "pulumi plugin install resource aws v7.51.1" in detail
    (tmp_path / "home" / "plugins" / "resource-aws-v7.40.0").mkdir(parents=True)
    (tmp_path / "home" / "plugins" / "resource-aws-v7.40.0" / "pulumi-resource-aws").write_text("")
    status, detail = locate(aws, env)
    assert status == "missing" and "installed: resource-aws-v7.40.0" in detail, "another version is not this one"
    exact = tmp_path / "home" / "plugins" / "resource-aws-v7.51.1"
    exact.mkdir()
    (exact / "pulumi-resource-aws").write_text("")
    assert locate(aws, env) == ("ok", f"aws v7.51.1 in {exact}")
    random = Plugin("resource", "random", "4.21.4")
    (tmp_path / "bin").mkdir()
    binary = tmp_path / "bin" / "pulumi-resource-random"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    assert locate(random, env)[0] == "ok" and str(binary) in locate(random, env)[1]
    assert locate(random, {**env, "PULUMI_IGNORE_AMBIENT_PLUGINS": "true"})[0] == "missing", "the CLI ignores PATH then"


def test_doctor_has_a_row_per_plugin(tmp_path: Path) -> None:
    out = io.StringIO()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GHOST_GITOPS_CACHE": str(tmp_path / "cache")}
    main(["doctor", "--json"], environ=env, out=out, err=io.StringIO())
    rows = {c["check"]: c for c in json.loads(out.getvalue())["checks"] if c["check"].startswith("plugin")}
    assert set(rows) == {"plugin aws", "plugin eks", "plugin kubernetes", "plugin random"}
    assert all(r["status"] == "missing" for r in rows.values())
    assert "pulumi plugin install resource aws v7.51.1" in rows["plugin aws"]["detail"]


@pytest.mark.cli
def test_a_preview_whose_plugin_is_missing_is_one_error_line(tmp_path: Path) -> None:
    """The real CLI, a project using pulumi-random, an empty PULUMI_HOME and no plugin download (as on a machine
    without get.pulumi.com): exit 4, one error line naming random and its version, no traceback."""
    cli = require_cli()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Pulumi.yaml").write_text("name: plugins\nruntime:\n  name: python\n")
    (repo / "Pulumi.dev.yaml").write_text("config: {}\n")
    (repo / "environments.yaml").write_text("environments:\n  - branch: main\n    stack: dev\n    kind: environment\n")
    (repo / "__main__.py").write_text("import pulumi_random\n\npulumi_random.RandomPet('pet')\n")
    gitrepo.git(repo, "init", "-q", "-b", "main")
    gitrepo.git(repo, "add", "-A")
    gitrepo.git(repo, "commit", "-q", "-m", "pet")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path / "home"), "PULUMI_HOME": str(tmp_path / "pulumi-home"),
           "PULUMI_CONFIG_PASSPHRASE": "x", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
           "PULUMI_IGNORE_AMBIENT_PLUGINS": "true", "GHOST_GITOPS_PULUMI_ROOT": str(cli.path.parent.parent), "LANG": "C.UTF-8"}
    proc = subprocess.run([sys.executable, "-m", "automation", "--project-dir", str(repo), "preview", "--stack", "dev",
                           "--backend-url", (tmp_path / "backend").as_uri(), "--lock-dir", str(tmp_path / "locks")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 4, text
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, text
    version = next(p.version for p in required(("pulumi_random",)) if isinstance(p, Plugin))
    assert f"the Pulumi provider plugin random v{version} is not installed" in errors[0], errors[0]
    assert f"pulumi plugin install resource random v{version}" in errors[0]
    assert "Traceback" not in text and "_InactiveRpcError" not in text
