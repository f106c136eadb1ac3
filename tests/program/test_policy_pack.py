"""The policy pack (policypack/), offline: every policy passes on the real program's synth and fails when one
setting of one resource of that synth is changed; dev, prod and a personal stack pass with zero violations;
levels and waivers; `synth --policy` on a copy of the program with an unencrypted database; and the CrossGuard
wrappers give the CLI exactly what the pure functions say (the real-CLI run is tests/real/test_policy_real.py)."""

from __future__ import annotations

import copy
import io
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from automation.cli.main import main
from automation.config import lifecycle
from automation.config.stackconfig import load_stack_config
from automation.engines.synth import synthesize
from automation.review.policy import StackPolicy, load_rules, stack_policy
from tests.support.gitrepo import commit, project_repo
from tests.support.paths import ROOT

sys.path.insert(0, str(ROOT))
from policypack import rules

Mutate = Callable[[dict[str, Any]], None]
#: the version support calendar on the tests' day (tests/conftest.py): the version policies' verdicts
CALENDAR = lifecycle.load().to_policy_config(date(2026, 12, 2))


@cache
def subjects(stack: str) -> tuple[rules.Subject, ...]:
    result = synthesize(ROOT, load_stack_config(ROOT, stack))
    return tuple(rules.Subject(r.urn, r.type, r.name, r.inputs, r.protect) for r in result.resources)


def context(stack: str) -> rules.Context:
    env = {"dev": "integration", "prod": "production"}.get(stack, "personal")
    return rules.Context(stack=stack, environment=env, calendar=CALENDAR)


def _set(path: str | tuple[str, ...], value: Any) -> Mutate:
    """Set the property at ``path`` (dotted, or a tuple when a key holds dots, like a label's)."""
    def mutate(props: dict[str, Any]) -> None:
        *head, last = path.split(".") if isinstance(path, str) else path
        node: Any = props
        for part in head:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return mutate


def _drop(path: str) -> Mutate:
    def mutate(props: dict[str, Any]) -> None:
        *head, last = path.split(".")
        node: Any = props
        for part in head:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node.pop(last, None)
    return mutate


def _env_secret(props: dict[str, Any]) -> None:
    props["spec"]["template"]["spec"]["containers"][0].setdefault("env", []).append(
        {"name": "database__connection__password", "value": "hunter2"})


C = "spec.template.spec.containers.0"
#: (policy, stack, resource type, one setting changed, what the message says)
CASES: list[tuple[str, str, str, Mutate, str]] = [
    ("eks-private-endpoint", "dev", "eks:index:Cluster", _set("publicAccessCidrs", []), "which means 0.0.0.0/0"),
    ("eks-no-open-endpoint-in-prod", "prod", "eks:index:Cluster", _set("publicAccessCidrs", ["0.0.0.0/0"]), "open to the world"),
    ("eks-secrets-encrypted", "prod", "eks:index:Cluster", _drop("encryptionConfigKeyArn"), "not envelope-encrypted"),
    ("eks-control-plane-logs", "dev", "eks:index:Cluster", _set("enabledClusterLogTypes", ["api"]), "misses audit"),
    ("eks-supported-version", "dev", "eks:index:Cluster", _set("version", "1.29"), "left EKS extended support on 2026-03-23"),
    ("version-support", "prod", "eks:index:Cluster", _set("version", "1.34"), "left EKS standard support on 2026-12-02"),
    ("kms-key-rotation", "prod", "aws:kms/key:Key", _set("enableKeyRotation", False), "enableKeyRotation must be true"),
    ("rds-not-public", "dev", "aws:rds/instance:Instance", _set("publiclyAccessible", True), "publiclyAccessible must be false"),
    ("rds-storage-encrypted", "prod", "aws:rds/instance:Instance", _set("storageEncrypted", False), "storageEncrypted must be true"),
    ("rds-backups", "prod", "aws:rds/instance:Instance", _set("backupRetentionPeriod", 1), "at least 7 days"),
    ("rds-production-ha", "prod", "aws:rds/instance:Instance", _set("multiAz", False), "multiAz must be true"),
    ("rds-maintenance-logs-tags", "dev", "aws:rds/instance:Instance", _set("enabledCloudwatchLogsExports", ["error"]),
     "must include error and slowquery"),
    ("mysql-only-from-security-group", "dev", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
     _set("cidrIpv4", "0.0.0.0/0"), "open to 0.0.0.0/0"),
    ("log-retention", "prod", "aws:cloudwatch/logGroup:LogGroup", _drop("retentionInDays"), "kept (and billed) forever"),
    ("default-security-group-closed", "dev", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
     _set("ingress", [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}]), "ingress must be []"),
    ("subnet-no-public-ip", "dev", "aws:ec2/subnet:Subnet", _set("mapPublicIpOnLaunch", True), "mapPublicIpOnLaunch"),
    ("iam-no-wildcard-actions", "prod", "aws:iam/rolePolicy:RolePolicy",
     _set("policy", json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*",
                                                                         "Resource": "*"}]})), "wildcard actions logs:*"),
    ("k8s-pod-hardening", "dev-alice", "kubernetes:apps/v1:Deployment",
     _set(f"{C}.securityContext.allowPrivilegeEscalation", True), "allowPrivilegeEscalation must be false"),
    ("k8s-resources-and-probes", "prod", "kubernetes:apps/v1:Deployment", _drop(f"{C}.livenessProbe"), "no livenessProbe"),
    ("k8s-no-secret-in-env", "dev", "kubernetes:apps/v1:Deployment", _env_secret,
     "env database__connection__password holds a literal value"),
    ("k8s-image-pinned", "prod", "kubernetes:batch/v1:Job", _set(f"{C}.image", "ghost:latest"), "not pinned"),
    ("k8s-namespace-restricted", "dev-alice", "kubernetes:core/v1:Namespace",
     _set(("metadata", "labels", "pod-security.kubernetes.io/enforce"), "baseline"), "must be \"restricted\""),
    ("alb-https-and-headers", "prod", "kubernetes:networking.k8s.io/v1:Ingress",
     _set(("metadata", "annotations", "alb.ingress.kubernetes.io/ssl-redirect"), ""), "ssl-redirect must be \"443\""),
]


def _fire(stack: str, type_: str, mutate: Mutate | None, policy: str) -> tuple[rules.Subject, list[rules.Violation]]:
    items = list(subjects(stack))
    index = next(i for i, s in enumerate(items) if s.type == type_)
    target = items[index]
    if mutate is not None:
        props = copy.deepcopy(dict(target.props))
        mutate(props)
        items[index] = replace(target, props=props)
    return target, [v for v in rules.evaluate(items, context(stack)) if v.policy == policy]


@pytest.mark.parametrize(("policy", "stack", "type_", "mutate", "says"), CASES, ids=[c[0] for c in CASES])
def test_each_policy_passes_on_the_program_and_fails_with_one_setting_changed(
        policy: str, stack: str, type_: str, mutate: Mutate, says: str) -> None:
    _, before = _fire(stack, type_, None, policy)
    assert before == [], before
    target, after = _fire(stack, type_, mutate, policy)
    assert [v.urn for v in after] == [target.urn], after
    (violation,) = after
    assert says in violation.message and violation.level == "mandatory"
    assert violation.fix == rules.BY_NAME[policy].description and violation.fix  # how to fix, with every violation
    assert "hunter2" not in violation.message  # values of secret-looking settings never reach a message


def test_stack_and_project_policies_fail_when_the_program_changes() -> None:
    items = list(subjects("prod"))
    # vpc-flow-logs: the flow log removed
    flowless = [s for s in items if s.type != "aws:ec2/flowLog:FlowLog"]
    found = [v for v in rules.evaluate(flowless, context("prod")) if v.policy == "vpc-flow-logs"]
    assert [v.type for v in found] == ["aws:ec2/vpc:Vpc"]
    # k8s-default-deny-network-policy: the default-deny policy removed
    open_ns = [s for s in items if s.name != "ghost-default-deny"]
    found = [v for v in rules.evaluate(open_ns, context("prod")) if v.policy == "k8s-default-deny-network-policy"]
    assert [v.name for v in found] == ["ghost-ns"] and "no default-deny NetworkPolicy" in found[0].message
    # prod-stateful-protected: the database without protect
    unprotected = [replace(s, protect=False) if s.type == "aws:rds/instance:Instance" else s for s in items]
    found = [v for v in rules.evaluate(unprotected, context("prod")) if v.policy == "prod-stateful-protected"]
    assert [v.name for v in found] == ["prod-mysql"]
    # imdsv2-required: an instance launched outside Auto Mode without IMDSv2
    instance = rules.Subject("urn:x", "aws:ec2/instance:Instance", "bastion", {"metadataOptions": {"httpTokens": "optional"}})
    found = [v for v in rules.evaluate([*items, instance], context("prod")) if v.policy == "imdsv2-required"]
    assert [v.name for v in found] == ["bastion"]
    # personal-no-aws: a personal stack that declares an AWS resource
    bucket = rules.Subject("urn:y", "aws:s3/bucketV2:BucketV2", "uploads", {})
    found = [v for v in rules.evaluate([*subjects("dev-alice"), bucket], context("dev-alice")) if v.policy == "personal-no-aws"]
    assert [v.name for v in found] == ["uploads"]


def test_every_policy_has_a_failing_case() -> None:
    covered = {c[0] for c in CASES} | {"vpc-flow-logs", "k8s-default-deny-network-policy", "prod-stateful-protected",
                                       "imdsv2-required", "personal-no-aws",
                                       "version-support-ending"}  # advisory: tests/unit/test_lifecycle.py
    assert covered == {p.name for p in rules.POLICIES}


@pytest.mark.parametrize("stack", ["dev", "prod", "dev-alice"])
def test_the_program_passes_the_whole_pack(stack: str) -> None:
    assert rules.evaluate(subjects(stack), context(stack)) == ()


def test_levels_and_waivers_change_verdicts_never_silently() -> None:
    items = [rules.Subject("urn:db", "aws:rds/instance:Instance", "db", {"storageEncrypted": False})]
    ctx = context("dev")
    (mandatory,) = [v for v in rules.evaluate(items, ctx) if v.policy == "rds-storage-encrypted"]
    assert mandatory.level == "mandatory" and mandatory.waived is None
    (advisory,) = [v for v in rules.evaluate(items, ctx, {"rds-storage-encrypted": "advisory"})
                   if v.policy == "rds-storage-encrypted"]
    assert advisory.level == "advisory"
    assert not [v for v in rules.evaluate(items, ctx, {"rds-storage-encrypted": "disabled"}) if v.policy == "rds-storage-encrypted"]
    waiver = rules.Waiver("rds-storage-encrypted", "aws:rds/instance:Instance::db", "restored from an encrypted snapshot next week")
    (waived,) = [v for v in rules.evaluate(items, ctx, waivers=[waiver]) if v.policy == "rds-storage-encrypted"]
    assert waived.waived == "restored from an encrypted snapshot next week" and waived.level == "mandatory"


def test_environments_policy_settings_are_checked_against_the_pack(tmp_path: Path) -> None:
    from automation.config.environments import load_environments

    envs = load_environments(ROOT)
    rule = envs.by_stack("dev")
    assert rule is not None
    settings = stack_policy(ROOT, "dev", "integration", rule.rule, envs.stateful)
    assert isinstance(settings, StackPolicy) and settings.policies == len(rules.POLICIES)
    config = settings.config()
    assert config["rds-backups"] == {"enforcementLevel": "mandatory", "stack": "dev", "environment": "integration",
                                     "calendar": CALENDAR}

    class Bad:
        class policy:  # noqa: N801 - stands for a rule's `policy` settings
            enforcement = {"rds-backupz": "advisory"}
            waivers = ()
    from automation.model.errors import ConfigError
    with pytest.raises(ConfigError, match=r"policy settings of dev name an unknown policy `rds-backupz`"):
        stack_policy(ROOT, "dev", "integration", Bad, envs.stateful)
    (tmp_path / "environments.yaml").write_text("environments:\n  - branch: main\n    stack: dev\n    kind: environment\n"
                                                "    policy:\n      waivers:\n        - policy: rds-backups\n"
                                                "          resource: x\n          reason: ''\n")
    with pytest.raises(ConfigError, match=r"environments\[0\].policy.waivers\[0\].reason"):
        load_environments(tmp_path)


def test_synth_policy_on_a_copy_with_an_unencrypted_database_exits_9_naming_policy_resource_and_fix(tmp_path: Path) -> None:
    repo = project_repo(tmp_path / "repo", ROOT)
    import shutil
    shutil.copytree(ROOT / "policypack", repo / "policypack", ignore=shutil.ignore_patterns("__pycache__"))
    source = (repo / "infra" / "database.py").read_text()
    assert "storage_encrypted=True" in source
    commit(repo, {"infra/database.py": source.replace("storage_encrypted=True", "storage_encrypted=False")}, "unencrypted")
    out, err = io.StringIO(), io.StringIO()
    code = main(["--project-dir", str(repo), "synth", "--stack", "prod", "--policy"], environ={}, out=out, err=err)
    assert code == 9, err.getvalue()
    text = out.getvalue()
    assert "policy pack: 29 policies ran on 71 resources: 1 mandatory, 0 advisory violation(s)" in text
    assert "[mandatory] rds-storage-encrypted: prod-mysql (aws:rds/instance:Instance): storageEncrypted must be true" in text
    assert f"fix: {rules.BY_NAME['rds-storage-encrypted'].description}" in text
    # the same on this repository's program: zero violations, exit 0
    out = io.StringIO()
    assert main(["synth", "--stack", "prod", "--policy", "--format", "json"], environ={}, out=out, err=err) == 0
    assert json.loads(out.getvalue())["policy"] == {"policies": 29, "violations": []}


def test_the_crossguard_wrappers_report_what_the_functions_say() -> None:
    """pulumi_policy's own harness style (its tests call validate with hand-built args): every policy's wrapper,
    on a failing case, reports the same messages as its function."""
    from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs

    from policypack import crossguard

    wrapped: dict[str, Any] = {p.name: p for p in crossguard.policies()}
    assert set(wrapped) == {p.name for p in rules.POLICIES} and len(wrapped) == 29
    opts = PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
                                 custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[])
    config = {"stack": "prod", "environment": "production", "calendar": CALENDAR}
    for policy, stack, type_, mutate, _ in CASES:
        target, expected = _fire(stack, type_, mutate, policy)
        props = copy.deepcopy(dict(target.props))
        mutate(props)
        reported: list[str] = []
        args = ResourceValidationArgs(type_, props, target.urn, target.name, opts, None,
                                      {**config, "stack": stack, "environment": context(stack).environment or ""})
        wrapped[policy].validate(args, lambda message, urn=None, into=reported: into.append(message))
        assert reported == [v.message for v in expected], policy
    # a waiver in the config: the wrapper does not report the resource (the engine records the waiver)
    target, expected = _fire("prod", "aws:rds/instance:Instance", _set("storageEncrypted", False), "rds-storage-encrypted")
    reported = []
    props = {**dict(target.props), "storageEncrypted": False}
    args = ResourceValidationArgs(target.type, props, target.urn, target.name, opts, None,
                                  {**config, "waivers": [{"resource": "aws:rds/instance:Instance::prod-*", "reason": "r"}]})
    wrapped["rds-storage-encrypted"].validate(args, lambda message, urn=None, into=reported: into.append(message))
    assert expected and reported == []


def test_the_pack_loaded_by_the_engine_is_this_one() -> None:
    assert load_rules(ROOT / "policypack").BY_NAME.keys() == rules.BY_NAME.keys()


def test_reports_put_violations_first_mandatory_before_advisory_and_waivers_last() -> None:
    from automation.model.changes import PolicyViolation
    from automation.model.outcome import Outcome
    from automation.review.render import Report, Status, render_markdown, render_text

    found = (PolicyViolation("rds-storage-encrypted", "mandatory", "urn:db", "db", "storageEncrypted must be true",
                             "aws:rds/instance:Instance", "RDS storage is encrypted.", "high"),
             PolicyViolation("log-retention", "advisory", "urn:lg", "logs", "retentionInDays is not set", "aws:cloudwatch/logGroup:LogGroup",
                             "Log groups have a retention period.", "low"),
             PolicyViolation("rds-backups", "mandatory", "urn:db", "db", "backupRetentionPeriod is 1", "aws:rds/instance:Instance",
                             "Backups are kept.", "high", waived="restored nightly from prod"))
    report = Report(stack="prod", operation="preview", status=Status.POLICY_DENIED, reason="pull request #4",
                    outcome=Outcome(stack="prod", operation="preview", succeeded=False, counts={"update": 1}),
                    error="preview of prod stopped by the policy pack", policy=found, policies_ran=29)
    text = render_markdown(report)
    head = text.split("**Reason:**")[0]
    assert "⛔ Pulumi preview: `prod` policy-denied" in head and "**Policy violations:** 1 mandatory, 1 advisory, 1 waived" in head
    assert head.index("🛑 **mandatory** `rds-storage-encrypted`") < head.index("⚠️ **advisory** `log-retention`") < head.index(
        "waived `rds-backups` on `db`: backupRetentionPeriod is 1 (reason: restored nightly from prod)")
    assert "**fix:** RDS storage is encrypted." in head and "**Policy pack:** 29 policies, 2 violation(s)" in text
    terminal = render_text(report)
    assert "policy rds-storage-encrypted [mandatory] db: storageEncrypted must be true" in terminal
    assert "policy rds-backups [waived: restored nightly from prod] db" in terminal
    doc = report.to_json()
    assert doc["status"] == "policy-denied" and doc["policy"]["policies"] == 29
    assert [v["policy"] for v in doc["policy"]["violations"]] == ["rds-storage-encrypted", "log-retention", "rds-backups"]


def test_the_alb_policy_leaves_other_controllers_ingresses_alone() -> None:
    nginx = rules.Subject("urn:i", "kubernetes:networking.k8s.io/v1:Ingress", "web",
                          {"metadata": {"annotations": {"nginx.ingress.kubernetes.io/ssl-redirect": "true"}},
                           "spec": {"ingressClassName": "nginx"}})
    assert [v for v in rules.evaluate([nginx], context("dev")) if v.policy == "alb-https-and-headers"] == []
    alb = replace(nginx, props={"metadata": {"annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"}}})
    (found,) = [v for v in rules.evaluate([alb], context("dev")) if v.policy == "alb-https-and-headers"]
    assert "drop_invalid_header_fields" in found.message


def test_the_memory_engine_never_reports_a_pack_it_did_not_run_it_evaluates_the_pack_on_its_plan(tmp_path: Path) -> None:
    """Issue 27's first finding: `up --engine memory` on a commit with a writable root filesystem said the pack ran and
    deployed. The memory engine runs no CLI, so the runner evaluates the pack's functions on its plan: exit 9,
    nothing applied, and the progress line says how the pack was evaluated."""
    import shutil

    repo = project_repo(tmp_path / "repo", ROOT)
    shutil.copytree(ROOT / "policypack", repo / "policypack", ignore=shutil.ignore_patterns("__pycache__"))
    source = (repo / "apps" / "ghost" / "component.py").read_text()
    assert "read_only_root_filesystem=True" in source
    commit(repo, {"apps/ghost/component.py": source.replace("read_only_root_filesystem=True",
                                                              "read_only_root_filesystem=False")}, "writable root")
    state = ["--engine", "memory", "--state-dir", str(tmp_path / "state"), "--lock-dir", str(tmp_path / "locks")]
    out, err = io.StringIO(), io.StringIO()
    code = main(["--project-dir", str(repo), "up", "--stack", "dev", "--json", *state], environ={}, out=out, err=err)
    assert code == 9, err.getvalue()
    (report,) = json.loads(out.getvalue())["reports"]
    assert report["status"] == "policy-denied" and "this engine runs no pack" in report["error"]
    assert {v["policy"] for v in report["policy"]["violations"] if v["level"] == "mandatory"} == {"k8s-pod-hardening"}
    assert "evaluated on its plan by the engine's caller" in err.getvalue()
    assert "previewing dev with the policy pack" not in err.getvalue()
    out = io.StringIO()
    assert main(["--project-dir", str(repo), "history", "--stack", "dev", "--json", *state], environ={}, out=out,
                err=io.StringIO()) == 0
    assert json.loads(out.getvalue())["updates"] == [], "nothing was applied"
