"""The policy pack's sub-check cases (issue 28): each takes one resource from the real program's synth (or, for a type
the program does not declare, one shaped like it), changes ONE place, and names the violation it expects; boundary
values pair the last value that passes with the first that fails. Run by tests/program/test_policy_subchecks.py
against the pack, and by tests/program/test_policy_mutants.py against each mutant of it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from automation.review.policy import load_rules, pack_dir
from tests.support.paths import ROOT
from tests.support.program import synth

rules = load_rules(pack_dir(ROOT))  # type: ignore[arg-type]
Props = dict[str, Any]


def put(path: str, value: Any) -> Callable[[Props], None]:
    """Set ``path`` (dots; list indexes as numbers) to ``value``; ``DELETE`` removes the key."""
    def change(props: Props) -> None:
        *head, last = path.split(".")
        node: Any = props
        for part in head:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(last)] = value
        elif value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return change


DELETE = object()


def each(*changes: Callable[[Props], None]) -> Callable[[Props], None]:
    """Several changes in one place (one fact expressed by more than one key)."""
    def change(props: Props) -> None:
        for c in changes:
            c(props)
    return change
POD = "spec.template.spec"
GHOST = f"{POD}.containers.0"
INIT = f"{POD}.initContainers.0"
SG_ALL_OPEN = {"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}


@dataclass(frozen=True)
class Case:
    id: str
    policy: str
    stack: str
    type: str
    change: Callable[[Props], None] | None
    says: str | None  # None: must NOT be violated (the boundary value that passes)
    name: str | None = None
    #: a subject the program does not declare: (type, name, props), built from the synth's resource
    build: Callable[[], tuple[str, str, Props]] | None = None


def _pod_of(stack: str) -> Props:
    return copy.deepcopy(dict(synth(stack).of_type("kubernetes:apps/v1:Deployment")[0].inputs["spec"]["template"]))


def _cronjob() -> tuple[str, str, Props]:
    return "kubernetes:batch/v1:CronJob", "backup", {"spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {
        "template": _pod_of("dev")}}}}


def _cronjob_escalating() -> tuple[str, str, Props]:
    kind, name, props = _cronjob()
    props["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    return kind, name, props


def _launch_template(hop: int, tokens: str = "required") -> Callable[[], tuple[str, str, Props]]:
    return lambda: ("aws:ec2/launchTemplate:LaunchTemplate", "nodes", {"metadataOptions": {
        "httpTokens": tokens, "httpPutResponseHopLimit": hop, "httpEndpoint": "enabled"}})


def _eks_provider_cluster(private: bool) -> Callable[[], tuple[str, str, Props]]:
    """The provider resource pulumi-eks creates (aws:eks/cluster:Cluster): endpoint settings under vpcConfig."""
    def build() -> tuple[str, str, Props]:
        eks = synth("prod").of_type("eks:index:Cluster")[0].inputs
        return "aws:eks/cluster:Cluster", "prod-eks-cluster", {
            "version": eks["version"], "encryptionConfig": {"resources": ["secrets"]},
            "enabledClusterLogTypes": eks["enabledClusterLogTypes"],
            "vpcConfig": {"endpointPrivateAccess": private, "endpointPublicAccess": True,
                          "publicAccessCidrs": eks["publicAccessCidrs"]}}
    return build


def _sg(ingress: list[Props]) -> Callable[[], tuple[str, str, Props]]:
    return lambda: ("aws:ec2/securityGroup:SecurityGroup", "dev-mysql-open", {"ingress": ingress, "egress": []})


def _sg_rule(**props: Any) -> Callable[[], tuple[str, str, Props]]:
    return lambda: ("aws:ec2/securityGroupRule:SecurityGroupRule", "open", {"type": "ingress", "securityGroupId": "sg-1",
                                                                            **props})


def _iam(statement: Props) -> Callable[[Props], None]:
    return put("assumeRolePolicy", json.dumps({"Version": "2012-10-17", "Statement": [statement]}))


def _labels_change(props: Props) -> None:
    props.setdefault("metadata", {}).setdefault("labels", {})["pod-security.kubernetes.io/enforce"] = "baseline"


def annotation(key: str, value: Any) -> Callable[[Props], None]:
    """Annotation keys hold dots: set (or with DELETE remove) one directly."""
    def change(props: Props) -> None:
        annotations = props["metadata"]["annotations"]
        if value is DELETE:
            annotations.pop(key, None)
        else:
            annotations[key] = value
    return change


DEPLOY, JOB, RDS, EKS_T = ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job", "aws:rds/instance:Instance",
                           "eks:index:Cluster")
CASES = [
    # k8s-pod-hardening: every sub-check, on the main container, the init container, a Job and a CronJob's pod
    Case("sa-token", "k8s-pod-hardening", "dev", DEPLOY, put(f"{POD}.automountServiceAccountToken", True),
         "automountServiceAccountToken must be false"),
    Case("sa-token-absent", "k8s-pod-hardening", "dev", DEPLOY, put(f"{POD}.automountServiceAccountToken", DELETE),
         "automountServiceAccountToken must be false"),
    Case("host-network", "k8s-pod-hardening", "dev", DEPLOY, put(f"{POD}.hostNetwork", True), "hostNetwork must not be true"),
    Case("host-network-false", "k8s-pod-hardening", "dev", DEPLOY, put(f"{POD}.hostNetwork", False), None),
    Case("host-pid", "k8s-pod-hardening", "dev", DEPLOY, put(f"{POD}.hostPID", True), "hostPID must not be true"),
    Case("privileged", "k8s-pod-hardening", "dev", DEPLOY, put(f"{GHOST}.securityContext.privileged", True),
         "container ghost: securityContext.privileged must not be true"),
    Case("escalation", "k8s-pod-hardening", "dev", DEPLOY, put(f"{GHOST}.securityContext.allowPrivilegeEscalation", True),
         "container ghost: securityContext.allowPrivilegeEscalation must be false"),
    Case("read-only-root", "k8s-pod-hardening", "dev", DEPLOY, put(f"{GHOST}.securityContext.readOnlyRootFilesystem", False),
         "container ghost: securityContext.readOnlyRootFilesystem must be true"),
    Case("non-root-container-false", "k8s-pod-hardening", "dev", DEPLOY, put(f"{GHOST}.securityContext.runAsNonRoot", False),
         "container ghost: runAsNonRoot must be true"),
    Case("non-root-only-on-pod", "k8s-pod-hardening", "dev", DEPLOY, put(f"{GHOST}.securityContext.runAsNonRoot", DELETE),
         None),  # the pod's runAsNonRoot: true covers a container that does not set it
    Case("non-root-nowhere", "k8s-pod-hardening", "dev", DEPLOY,
         each(put(f"{GHOST}.securityContext.runAsNonRoot", DELETE), put(f"{POD}.securityContext.runAsNonRoot", DELETE),
              put(f"{INIT}.securityContext.runAsNonRoot", DELETE)),
         "container ghost: runAsNonRoot must be true"),
    Case("drop-all", "k8s-pod-hardening", "dev", DEPLOY, put(f"{GHOST}.securityContext.capabilities.drop", ["NET_RAW"]),
         "container ghost: securityContext.capabilities.drop must include ALL"),
    Case("seccomp", "k8s-pod-hardening", "dev", DEPLOY,
         put(f"{GHOST}.securityContext.seccompProfile.type", "Unconfined"),
         "container ghost: seccompProfile.type must be RuntimeDefault"),
    Case("seccomp-localhost", "k8s-pod-hardening", "dev", DEPLOY, put(f"{GHOST}.securityContext.seccompProfile.type", "Localhost"),
         None),
    Case("init-container", "k8s-pod-hardening", "dev", DEPLOY, put(f"{INIT}.securityContext.allowPrivilegeEscalation", True),
         "container config: securityContext.allowPrivilegeEscalation must be false"),
    Case("job-pod", "k8s-pod-hardening", "dev", JOB, put(f"{POD}.containers.0.securityContext.readOnlyRootFilesystem", False),
         "securityContext.readOnlyRootFilesystem must be true"),
    Case("cronjob-pod", "k8s-pod-hardening", "dev", "kubernetes:batch/v1:CronJob", None,
         "container ghost: securityContext.allowPrivilegeEscalation must be false", build=_cronjob_escalating),
    Case("cronjob-pod-ok", "k8s-pod-hardening", "dev", "kubernetes:batch/v1:CronJob", None, None, build=_cronjob),
    # k8s-resources-and-probes
    Case("cpu-request", "k8s-resources-and-probes", "dev", DEPLOY, put(f"{GHOST}.resources.requests.cpu", DELETE),
         "container ghost: resources.requests misses cpu"),
    Case("memory-limit", "k8s-resources-and-probes", "dev", DEPLOY, put(f"{GHOST}.resources.limits.memory", DELETE),
         "container ghost: resources.limits misses memory"),
    Case("init-limits", "k8s-resources-and-probes", "dev", DEPLOY, put(f"{INIT}.resources", DELETE),
         "container config: resources.requests misses cpu, memory"),
    Case("readiness", "k8s-resources-and-probes", "dev", DEPLOY, put(f"{GHOST}.readinessProbe", DELETE),
         "container ghost: no readinessProbe"),
    Case("liveness", "k8s-resources-and-probes", "dev", DEPLOY, put(f"{GHOST}.livenessProbe", DELETE),
         "container ghost: no livenessProbe"),
    # RDS
    Case("backups-unset", "rds-backups", "dev", RDS, put("backupRetentionPeriod", DELETE), "backupRetentionPeriod is not set"),
    Case("backups-6-days", "rds-backups", "dev", RDS, put("backupRetentionPeriod", 6), "backupRetentionPeriod is 6"),
    Case("backups-7-days", "rds-backups", "dev", RDS, put("backupRetentionPeriod", 7), None),
    Case("final-snapshot-prod", "rds-backups", "prod", RDS, put("skipFinalSnapshot", True), "skipFinalSnapshot must be false"),
    Case("final-snapshot-dev", "rds-backups", "dev", RDS, put("skipFinalSnapshot", True), None),
    Case("multi-az", "rds-production-ha", "prod", RDS, put("multiAz", False), "multiAz must be true"),
    Case("deletion-protection", "rds-production-ha", "prod", RDS, put("deletionProtection", False),
         "deletionProtection must be true"),
    Case("minor-upgrades", "rds-maintenance-logs-tags", "dev", RDS, put("autoMinorVersionUpgrade", False),
         "autoMinorVersionUpgrade must be true"),
    Case("copy-tags", "rds-maintenance-logs-tags", "dev", RDS, put("copyTagsToSnapshot", False), "copyTagsToSnapshot must be true"),
    Case("slowquery-log", "rds-maintenance-logs-tags", "dev", RDS, put("enabledCloudwatchLogsExports", ["error"]),
         "enabledCloudwatchLogsExports must include error and slowquery"),
    Case("rds-public", "rds-not-public", "dev", RDS, put("publiclyAccessible", True), "publiclyAccessible must be false"),
    Case("rds-unencrypted", "rds-storage-encrypted", "dev", RDS, put("storageEncrypted", False), "storageEncrypted must be true"),
    # security groups and MySQL
    Case("default-sg-egress", "default-security-group-closed", "dev", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
         put("egress", [SG_ALL_OPEN]), "egress must be []"),
    Case("default-sg-ingress", "default-security-group-closed", "dev", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
         put("ingress", [SG_ALL_OPEN]), "ingress must be []"),
    Case("mysql-rule-cidr", "mysql-only-from-security-group", "dev",
         "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", put("cidrIpv4", "0.0.0.0/0"),
         "MySQL (3306) is open to 0.0.0.0/0"),
    Case("mysql-rule-range-edge", "mysql-only-from-security-group", "dev",
         "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
         each(put("cidrIpv4", "10.0.0.0/8"), put("fromPort", 3307), put("toPort", 3400)), None),
    Case("all-traffic-rule", "mysql-only-from-security-group", "dev", "aws:ec2/securityGroupRule:SecurityGroupRule", None,
         "MySQL (3306) is open to 0.0.0.0/0", build=_sg_rule(protocol="-1", fromPort=0, toPort=0, cidrBlocks=["0.0.0.0/0"])),
    Case("egress-rule", "mysql-only-from-security-group", "dev", "aws:ec2/securityGroupRule:SecurityGroupRule", None, None,
         build=lambda: ("aws:ec2/securityGroupRule:SecurityGroupRule", "out", {"type": "egress", "protocol": "-1",
                                                                                "fromPort": 0, "toPort": 0,
                                                                                "cidrBlocks": ["0.0.0.0/0"]})),
    Case("inline-ingress", "mysql-only-from-security-group", "dev", "aws:ec2/securityGroup:SecurityGroup", None,
         "MySQL (3306) is open to 0.0.0.0/0",
         build=_sg([{"protocol": "tcp", "fromPort": 3306, "toPort": 3306, "cidrBlocks": ["0.0.0.0/0"]}])),
    Case("inline-ingress-udp", "mysql-only-from-security-group", "dev", "aws:ec2/securityGroup:SecurityGroup", None, None,
         build=_sg([{"protocol": "udp", "fromPort": 3306, "toPort": 3306, "cidrBlocks": ["0.0.0.0/0"]}])),
    # IMDSv2
    Case("imds-tokens", "imdsv2-required", "dev", "aws:ec2/launchTemplate:LaunchTemplate", None,
         "httpTokens must be \"required\"", build=_launch_template(1, tokens="optional")),
    Case("imds-hop-2", "imdsv2-required", "dev", "aws:ec2/launchTemplate:LaunchTemplate", None,
         "httpPutResponseHopLimit must be 1", build=_launch_template(2)),
    Case("imds-hop-1", "imdsv2-required", "dev", "aws:ec2/launchTemplate:LaunchTemplate", None, None,
         build=_launch_template(1)),
    # EKS (the component and the provider resource it creates)
    Case("eks-private", "eks-private-endpoint", "prod", EKS_T, put("endpointPrivateAccess", False),
         "endpointPrivateAccess must be true"),
    Case("eks-public-no-cidrs", "eks-private-endpoint", "dev", EKS_T, put("publicAccessCidrs", []),
         "endpointPublicAccess is on without publicAccessCidrs"),
    Case("eks-public-off-no-cidrs", "eks-private-endpoint", "dev", EKS_T,
         each(put("publicAccessCidrs", []), put("endpointPublicAccess", False)), None),
    Case("eks-provider-private", "eks-private-endpoint", "prod", "aws:eks/cluster:Cluster", None,
         "endpointPrivateAccess must be true", build=_eks_provider_cluster(False)),
    Case("eks-provider-ok", "eks-private-endpoint", "prod", "aws:eks/cluster:Cluster", None, None,
         build=_eks_provider_cluster(True)),
    Case("eks-open-prod", "eks-no-open-endpoint-in-prod", "prod", EKS_T, put("publicAccessCidrs", ["0.0.0.0/0"]),
         "publicAccessCidrs contains 0.0.0.0/0 in production"),
    Case("eks-logs", "eks-control-plane-logs", "dev", EKS_T, put("enabledClusterLogTypes", ["api", "audit"]),
         "enabledClusterLogTypes misses authenticator, controllerManager, scheduler"),
    Case("eks-unencrypted", "eks-secrets-encrypted", "dev", EKS_T, put("encryptionConfigKeyArn", DELETE),
         "encryptionConfigKeyArn is not set"),
    Case("eks-version-not-in-table", "eks-supported-version", "dev", EKS_T, put("version", "1.28"),
         "Kubernetes 1.28 is not in the version support table"),
    Case("eks-version-unpinned", "eks-supported-version", "dev", EKS_T, put("version", "1.35.2"),
         "is not a pinned Kubernetes minor version"),
    # IAM
    Case("iam-wildcard", "iam-no-wildcard-actions", "dev", "aws:iam/role:Role",
         _iam({"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:*"}),
         "assumeRolePolicy allows wildcard actions sts:*"),
    Case("iam-not-action", "iam-no-wildcard-actions", "dev", "aws:iam/role:Role",
         _iam({"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "NotAction": "iam:*"}),
         "assumeRolePolicy allows NotAction"),
    Case("iam-deny-not-action", "iam-no-wildcard-actions", "dev", "aws:iam/role:Role",
         _iam({"Effect": "Deny", "Principal": {"AWS": "*"}, "NotAction": "sts:AssumeRole"}), None),
    # network policy, namespace, ingress
    Case("default-deny-ingress-only", "k8s-default-deny-network-policy", "dev",
         "kubernetes:networking.k8s.io/v1:NetworkPolicy", put("spec.policyTypes", ["Ingress"]),
         "has no default-deny NetworkPolicy", name="ghost-default-deny"),
    Case("namespace-baseline", "k8s-namespace-restricted", "dev", "kubernetes:core/v1:Namespace", _labels_change,
         "pod-security.kubernetes.io/enforce"),
    Case("alb-headers", "alb-https-and-headers", "prod", "kubernetes:networking.k8s.io/v1:Ingress",
         annotation("alb.ingress.kubernetes.io/load-balancer-attributes", "idle_timeout.timeout_seconds=60"),
         "routing.http.drop_invalid_header_fields.enabled=true"),
    Case("alb-redirect", "alb-https-and-headers", "prod", "kubernetes:networking.k8s.io/v1:Ingress",
         annotation("alb.ingress.kubernetes.io/ssl-redirect", DELETE), "ssl-redirect must be \"443\""),
]


def _context(stack: str, module: Any = rules) -> Any:
    from automation.config import lifecycle

    environment = {"dev": "integration", "prod": "production"}[stack]
    return module.Context(stack=stack, environment=environment,
                          calendar=lifecycle.load().to_policy_config(lifecycle.today()))


def _subjects(case: Case, module: Any = rules) -> tuple[list[Any], Any]:
    result = synth(case.stack)
    subjects = [module.Subject(r.urn, r.type, r.name, copy.deepcopy(dict(r.inputs)), r.protect) for r in result.resources]
    if case.build is not None:
        kind, name, props = case.build()
        target = module.Subject(f"urn:pulumi:{case.stack}::ghost-gitops::{kind}::{name}", kind, name, props)
        subjects.append(target)
        return subjects, target
    matches = [s for s in subjects if s.type == case.type and (case.name is None or s.name == case.name)]
    assert len(matches) == 1, f"{case.id}: the program declares {len(matches)} {case.type} {case.name or ''}"
    target = matches[0]
    assert case.change is not None
    case.change(target.props)
    return subjects, target


def problem(case: Case, module: Any = rules) -> str | None:
    """Why ``case`` does not hold for the pack ``module`` (a mutant's, in tests/program/test_policy_mutants.py), or None."""
    subjects, target = _subjects(case, module)
    found = [v for v in module.evaluate(subjects, _context(case.stack, module)) if v.policy == case.policy]
    if case.says is None:
        return f"{case.id}: the boundary value passes, but: {[v.message for v in found]}" if found else None
    hits = [v for v in found if case.says in v.message]
    if not hits:
        return f"{case.id}: expected {case.says!r} from {case.policy}, got {[v.message for v in found]}"
    if case.policy != "k8s-default-deny-network-policy" and not all(v.urn == target.urn for v in hits):
        return f"{case.id}: reported on another resource"  # default deny is reported on the namespace it leaves open
    return None
