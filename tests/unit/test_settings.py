"""Bad config: each invalid value exits 2 with a message naming the stack, the key and what is expected."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from automation.cli.main import main
from infra.settings import SettingsError, config_keys, load_settings
from tests.support.paths import ROOT

P = "ghost-gitops:"

# (stack, key, bad value or None to delete, text the message must contain)
BAD_CONFIG = [
    ("dev", "aws:region", "mars-north-1x", "an AWS region name"),
    ("dev", "aws:region", None, "this key is required"),
    ("dev", P + "environment", "staging", "'integration', 'production' or 'personal'"),
    ("dev", P + "vpcCidr", "10.0.0.0/33", "CIDR notation"),
    ("dev", P + "vpcCidr", "10.0.0.0/8", "between /16 and /20"),
    ("dev", P + "vpcCidr", "8.8.0.0/16", "private (RFC 1918)"),
    ("dev", P + "availabilityZones", ["us-east-1a"], "at least 2"),
    ("dev", P + "availabilityZones", ["us-east-1a", "eu-west-1b"], "zones of region us-east-1"),
    ("dev", P + "availabilityZones", ["us-east-1a", "us-east-1a"], "distinct zones"),
    ("dev", P + "availabilityZones", "us-east-1a", "structured config"),
    ("dev", P + "natGateways", "two", "'single' or 'perAz'"),
    ("dev", P + "flowLogRetentionDays", 10, "CloudWatch retention periods"),
    ("dev", P + "flowLogRetentionDays", "forever", "valid integer"),
    ("dev", P + "kubernetesVersion", "1.21", "supported EKS Kubernetes version"),
    ("dev", P + "clusterPublicAccessCidrs", ["1.2.3.4/40"], "not one"),
    ("dev", P + "clusterAdminRoleArns", ["admin"], "IAM role ARNs"),
    ("dev", P + "dbEngineVersion", "5.7", "MySQL 8 engine version"),
    ("dev", P + "dbInstanceClass", "m5.large", "RDS instance class"),
    ("dev", P + "dbAllocatedStorageGb", 5, "greater than or equal to 20"),
    ("dev", P + "dbAllocatedStorageGb", 60, ">= dbAllocatedStorageGb (60)"),
    ("dev", P + "dbBackupRetentionDays", 3, "greater than or equal to 7"),
    ("dev", P + "dbMultiAz", "maybe", "valid boolean"),
    ("dev", P + "ghostImage", "ghost:latest", "never 'latest'"),
    ("dev", P + "ghostImage", "ghost:5.90.0-alpine", "pinned Ghost 6 image"),
    ("dev", P + "ghostHostname", "Blog_Example", "DNS name"),
    ("dev", P + "ghostHostname", "blog.example.com", "set together"),
    ("dev", P + "ghostCertificateArn", "arn:aws:iam::123:cert", "ACM certificate ARN"),
    ("dev", P + "ghostNamespace", "kube-system", "other than a system namespace"),
    ("dev", P + "ghostDatabaseName", "1ghost", "MySQL database name"),
    ("dev", P + "ghostStorageGb", 0, "greater than or equal to 1"),
    ("dev", P + "ghostCpuLimit", "lots", "CPU quantity"),
    ("dev", P + "ghostCpuLimit", "50m", "at least ghostCpuRequest (100m)"),
    ("dev", P + "ghostMemoryLimit", "256Mi", "at least ghostMemoryRequest (512Mi)"),
    ("dev", P + "ghostMemoryLimit", "1G", "memory quantity"),
    ("dev", P + "smtpHost", "smtp.example.com", "whenever smtpHost is set"),
    ("dev", P + "smtpPort", 70000, "less than or equal to 65535"),
    ("dev", P + "sharedStack", "dev", "only personal stacks"),
    ("dev", P + "ghostDatabaseName", "ghost_main", "outside the personal stacks' ghost_<name> pattern"),
    ("dev", P + "hostsPersonalStacks", "sometimes", "valid boolean"),
    ("dev", P + "tags", {"aws:owner": "x"}, "not allowed"),
    ("dev", P + "tags", {"team": "!!not valid!!"}, "the value of tag 'team' may hold only"),
    ("dev", P + "ghostImagee", "ghost:6.1.0-alpine", "unknown key"),
    ("prod", P + "clusterPublicAccessCidrs", ["0.0.0.0/0"], "never opens the Kubernetes API to 0.0.0.0/0"),
    ("prod", P + "dbMultiAz", False, "true in production"),
    ("prod", P + "dbDeletionProtection", False, "true in production"),
    ("prod", P + "dbFinalSnapshot", False, "true in production"),
    ("prod", P + "natGateways", "single", "'perAz' in production"),
]


@pytest.mark.parametrize(("stack", "key"), [("dev", "dbInstanceClass"), ("prod", "ghostImage"), ("dev", "vpcCidr"),
                                          ("prod", "kubernetesVersion"), ("dev", "ghostMemoryLimit")])
@pytest.mark.parametrize("empty", ["", None])
def test_an_explicit_empty_value_is_refused_not_taken_as_the_default(project_copy: Path, stack: str, key: str,
                                                                     empty: str | None) -> None:
    path = project_copy / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"][P + key] = empty
    path.write_text(yaml.safe_dump(doc))
    out, err = io.StringIO(), io.StringIO()
    code = main(["--project-dir", str(project_copy), "synth", "--stack", stack], out=out, err=err)
    assert code == 2 and out.getvalue() == "", err.getvalue()
    assert f"Pulumi.{stack}.yaml: config key 'ghost-gitops:{key}' of stack '{stack}' is set to an empty value" in err.getvalue()
    if stack == "dev":  # personal stacks derive from dev's file: refused the same way
        code = main(["--project-dir", str(project_copy), "synth", "--stack", "dev-alice"], out=out, err=err)
        assert code == 2


def test_a_personal_stack_on_a_template_that_hosts_none_exits_2_naming_the_fix(project_copy: Path) -> None:
    _write_config(project_copy, "dev", P + "hostsPersonalStacks", None)
    out, err = io.StringIO(), io.StringIO()
    code = main(["--project-dir", str(project_copy), "synth", "--stack", "dev-alice"], out=out, err=err)
    assert code == 2 and out.getvalue() == "", err.getvalue()
    assert ("personal stack 'dev-alice' runs on 'dev', which does not host personal stacks: set "
            "`ghost-gitops:hostsPersonalStacks: true` in Pulumi.dev.yaml") in err.getvalue()
    assert "Traceback" not in err.getvalue()


def _write_config(root: Path, stack: str, key: str, value: object) -> None:
    path = root / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    if value is None:
        doc["config"].pop(key, None)
    else:
        doc["config"][key] = value
    path.write_text(yaml.safe_dump(doc))


@pytest.mark.parametrize(("stack", "key", "value", "expected"), BAD_CONFIG,
                         ids=[f"{s}-{k.split(':')[-1]}-{v!r}"[:60] for s, k, v, _ in BAD_CONFIG])
def test_bad_config_exits_2_naming_the_key(project_copy: Path, stack: str, key: str, value: object, expected: str) -> None:
    _write_config(project_copy, stack, key, value)
    out, err = io.StringIO(), io.StringIO()
    code = main(["--project-dir", str(project_copy), "synth", "--stack", stack], out=out, err=err)
    message = err.getvalue()
    assert code == 2, message
    assert out.getvalue() == "", "nothing is printed (or declared) when config is invalid"
    short = key.split(":")[-1]
    # cross-field rules name the key that has to change
    short = {"ghostHostname": "ghostCertificateArn" if expected == "set together" else short,
             "smtpHost": "smtpUser", "dbAllocatedStorageGb": "dbMaxAllocatedStorageGb" if value == 60 else short}.get(short, short)
    named = key if key.startswith("aws:") else f"ghost-gitops:{short}"
    assert f"config key '{named}'" in message
    assert f"stack '{stack}'" in message
    assert expected in message, message
    assert "Traceback" not in message


def test_secret_value_is_never_echoed_in_a_settings_error() -> None:
    canary = "canary-s3cr3t-value-9f1c"
    with pytest.raises(SettingsError) as info:
        load_settings("dev", {"aws:region": "us-east-1", "environment": "integration", "smtpHost": "smtp.example.com",
                              "smtpPassword": canary, "smtpUser": "u", "mailFrom": "a@example.com",
                              "availabilityZones": '["us-east-1a"]'})
    assert canary not in str(info.value)
    settings_repr = repr(load_settings("dev", {
        "aws:region": "us-east-1", "environment": "integration", "smtpHost": "smtp.example.com",
        "smtpPassword": canary, "smtpUser": "u", "mailFrom": "a@example.com",
        "availabilityZones": '["us-east-1a","us-east-1b"]'}))
    assert canary not in settings_repr


def test_settings_are_frozen() -> None:
    s = load_settings("dev", {"aws:region": "us-east-1", "environment": "integration",
                              "availabilityZones": '["us-east-1a","us-east-1b"]', "ghostStaffDeviceVerification": "false"})
    with pytest.raises(Exception, match="frozen"):
        s.vpc_cidr = "10.1.0.0/16"  # type: ignore[misc]


def test_every_key_is_documented_in_pulumi_yaml() -> None:
    root = ROOT
    declared = yaml.safe_load((root / "Pulumi.yaml").read_text())["config"]
    assert set(config_keys()) == set(declared)
    for key, decl in declared.items():
        assert decl.get("description"), key


def test_every_key_is_documented_in_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for key in config_keys():
        assert f"`{key}`" in readme, key


def test_staff_device_verification_needs_mail_or_an_explicit_choice() -> None:
    base = {"aws:region": "us-east-1", "environment": "integration", "availabilityZones": '["us-east-1a","us-east-1b"]'}
    with pytest.raises(SettingsError, match=r"ghostStaffDeviceVerification.*false when smtpHost is not set"):
        load_settings("dev", base)
    assert load_settings("dev", {**base, "ghostStaffDeviceVerification": "false"}).ghost_staff_device_verification is False
    mail = {"smtpHost": "smtp.example.com", "smtpUser": "u", "smtpPassword": "p", "mailFrom": "a@example.com"}
    assert load_settings("dev", {**base, **mail}).ghost_staff_device_verification is True


def test_only_personal_stacks_are_torn_down() -> None:
    base = {"aws:region": "us-east-1", "environment": "integration", "availabilityZones": '["us-east-1a","us-east-1b"]',
            "ghostStaffDeviceVerification": "false", "ghostTeardown": "true"}
    with pytest.raises(SettingsError, match="only personal stacks are torn down"):
        load_settings("dev", base)
