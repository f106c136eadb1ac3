"""The `synth` command as a user runs it: tree, JSON contract, manifests, and secret canaries."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from automation.cli.main import main
from automation.engines.synth import SECRET_MARKER
from tests.support.paths import ROOT


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("stack", ["dev", "prod", "dev-carol"])
def test_synth_prints_the_resource_tree(stack: str) -> None:
    code, out, _ = run("synth", "--stack", stack)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"stack {stack} ")
    assert "  ghost:apps:Ghost  ghost" in lines
    assert "    kubernetes:apps/v1:Deployment  ghost-deployment" in lines
    if stack != "dev-carol":
        assert "    eks:index:Cluster  " + stack + "-eks" in lines


def test_synth_json_contract() -> None:
    code, out, _ = run("synth", "--stack", "prod", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"schema_version", "command", "stack", "resources", "outputs"} and doc["command"] == "synth"
    assert doc["stack"] == "prod"
    assert all(set(r) == {"urn", "type", "name", "parent", "inputs", "protect"} for r in doc["resources"])
    db = next(r for r in doc["resources"] if r["type"] == "aws:rds/instance:Instance")
    assert db["inputs"]["password"] == SECRET_MARKER
    assert db["parent"].endswith("ghost:infra:Database::prod")
    assert doc["outputs"]["kubeconfig"] == SECRET_MARKER
    assert "dbProvisionerPassword" not in doc["outputs"], "prod hosts no personal stacks: no provisioner"
    assert "dbAdminPassword" not in doc["outputs"], "the RDS master password is never exported"


def test_synth_writes_manifests(tmp_path: Path) -> None:
    code, _, err = run("synth", "--stack", "dev", "--manifests", str(tmp_path))
    assert code == 0
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in tmp_path.glob("*.yaml")}
    assert {"Namespace", "Deployment", "Service", "Ingress", "NetworkPolicy", "PersistentVolumeClaim",
            "Secret", "ServiceAccount", "Job", "StorageClass", "IngressClass"} <= kinds
    assert "wrote" in err


def test_secret_canary_never_reaches_output_or_files(project_copy: Path, tmp_path: Path) -> None:
    canary = "CANARY-smtp-pass-7d3e1f"
    doc = yaml.safe_load((project_copy / "Pulumi.dev.yaml").read_text())
    # an encrypted value as `pulumi config set --secret` writes it (offline, its ciphertext is the canary)
    doc["config"].update({"ghost-gitops:smtpHost": "smtp.example.com", "ghost-gitops:smtpUser": "mailer",
                          "ghost-gitops:mailFrom": "blog@example.com", "ghost-gitops:smtpPassword": {"secure": f"v1:{canary}"}})
    (project_copy / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc))
    out_dir = tmp_path / "m"
    for fmt in ("tree", "json"):
        code, out, err = run("--project-dir", str(project_copy), "synth", "--stack", "dev", "--format", fmt,
                             "--manifests", str(out_dir))
        assert code == 0, err
        assert canary not in out and canary not in err
    for path in out_dir.glob("*.yaml"):
        assert canary not in path.read_text()
    pod = yaml.safe_load((out_dir / "deployment-ghost-deployment.yaml").read_text())["spec"]["template"]["spec"]
    assert {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v} == {"ghost-db", "ghost-mail"}
    assert "/etc/ghost-mail" in {m["mountPath"] for m in pod["initContainers"][0]["volumeMounts"]}
    config = json.loads(yaml.safe_load((out_dir / "configmap-ghost-config.yaml").read_text())["data"]["config.json"])
    assert config["mail"] == {"transport": "SMTP", "from": "blog@example.com", "options": {
        "host": "smtp.example.com", "port": 587, "secure": False, "auth": {}}}  # credentials come from the Secret files
    netpol = yaml.safe_load((out_dir / "networkpolicy-ghost-netpol.yaml").read_text())
    ports = {p["port"] for rule in netpol["spec"]["egress"] for p in rule.get("ports", [])}
    assert 587 in ports, "the egress rule follows the mail transport in use"


def test_a_plaintext_smtp_password_is_refused_without_echoing_it(project_copy: Path) -> None:
    canary = "CANARY-plain-smtp-2c9d"
    doc = yaml.safe_load((project_copy / "Pulumi.dev.yaml").read_text())
    doc["config"].update({"ghost-gitops:smtpHost": "smtp.example.com", "ghost-gitops:smtpUser": "mailer",
                          "ghost-gitops:mailFrom": "blog@example.com", "ghost-gitops:smtpPassword": canary})
    (project_copy / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc))
    code, out, err = run("--project-dir", str(project_copy), "synth", "--stack", "dev")
    assert code == 2 and "smtpPassword" in err and "pulumi config set --secret smtpPassword" in err
    assert canary not in out and canary not in err


def test_secure_values_in_a_stack_file_stay_secret(project_copy: Path) -> None:
    doc = yaml.safe_load((project_copy / "Pulumi.dev.yaml").read_text())
    doc["config"].update({"ghost-gitops:smtpHost": "smtp.example.com", "ghost-gitops:smtpUser": "mailer",
                          "ghost-gitops:mailFrom": "blog@example.com",
                          "ghost-gitops:smtpPassword": {"secure": "v1:AAAABBBBCCCC"}})
    (project_copy / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc))
    code, out, err = run("--project-dir", str(project_copy), "synth", "--stack", "dev", "--format", "json")
    assert code == 0, err
    assert "v1:AAAABBBBCCCC" not in out and "offline-placeholder" not in out


@pytest.mark.parametrize(("argv", "message"), [
    (["synth", "--stack", "staging"], "unknown stack 'staging'"),
    (["synth", "--stack", "dev-Bad_Name"], "must be 1-30 lower-case"),
    (["synth", "--stack", "x;rm -rf"], "stack name"),
    (["synth"], "--stack"),
    (["frobnicate"], "invalid choice"),
    (["history", "--stack", "dev", "--limit", "0"], "must be 1 or more"),
    (["up", "--stack", "dev", "--lock-timeout", "-5"], "must not be negative"),
    (["synth", "--stack", "dev", "--manifests", "/dev/null/x"], "cannot create the directory"),
])
def test_bad_arguments_exit_2(argv: list[str], message: str) -> None:
    code, out, err = run(*argv)
    assert code == 2
    assert message in err
    assert out == ""


def test_synth_as_a_process_exits_2_without_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "automation", "synth", "--stack", "nope"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "unknown stack" in proc.stderr


def test_the_sdk_still_has_every_private_name_synth_relies_on() -> None:
    """Fails by name on an SDK upgrade that moves one (automation/engines/offline_runtime.py is the only user)."""
    from automation.engines import offline_runtime

    assert offline_runtime.check() == []
    assert offline_runtime.PRIVATE_NAMES and all(m.startswith("pulumi.") for m, _ in offline_runtime.PRIVATE_NAMES)


def test_each_synth_runs_isolated_and_program_errors_become_one_error_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two project roots with a module of the same name: each synth sees its own; nothing leaks into sys.path,
    sys.modules or os.environ; a pulumi.RunError of the program is bad input (ConfigError), anything else SynthError."""
    import os

    from automation.config.stackconfig import StackConfig
    from automation.engines.synth import SynthError, synthesize
    from automation.model.errors import ConfigError

    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"proj:leak": "from-env"}))
    roots = []
    for name, body in (("a", "pulumi.export('which', helper.WHICH)"), ("b", "pulumi.export('which', helper.WHICH)"),
                       ("bad", "raise pulumi.RunError('greeting must be short')"), ("bug", "1 / 0")):
        root = tmp_path / name
        root.mkdir()
        (root / "helper.py").write_text(f"WHICH = {name!r}\n")
        (root / "__main__.py").write_text("import pulumi\nimport helper\n"
                                          "pulumi.export('leak', pulumi.Config().get('leak'))\n" + body + "\n")
        roots.append(root)
    config = StackConfig(project="proj", stack="dev", values={}, secret_keys=frozenset(), source="test")
    path_before, env_before = list(sys.path), dict(os.environ)
    outputs = [synthesize(root, config).outputs for root in roots[:2]]
    assert [o["which"] for o in outputs] == ["a", "b"], "each root's own modules"
    assert [o["leak"] for o in outputs] == [None, None], "only the stack file's config counts"
    assert sys.path == path_before and dict(os.environ) == env_before and "helper" not in sys.modules
    with pytest.raises(ConfigError, match="greeting must be short"):
        synthesize(roots[2], config)
    with pytest.raises(SynthError, match="ZeroDivisionError"):
        synthesize(roots[3], config)
    assert sys.path == path_before and "helper" not in sys.modules
