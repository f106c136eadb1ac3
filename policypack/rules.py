"""The policies of the ghost-gitops policy pack, as pure functions over a resource's inputs. Self-contained (no
import of Pulumi, of the program or of the engine), so that the same functions run in three places:

- inside the CrossGuard pack (``policypack/crossguard.py``), which the real Pulumi CLI runs at every preview and
  up of the engine (an analyzer plugin), with the props the CLI sends;
- offline, on what ``synth`` records (``python -m automation synth --stack S --policy``, and a fork's offline
  diff), through ``automation/review/policy.py``;
- in the tests, which build a passing and a failing case of each from the real program's synth.

A check returns messages (never a property value that could be a secret: only property names, the expected
value, and values that are never secret such as an image tag or a CIDR). A value the engine does not know
yet (``[unknown]`` offline, the CLI's unknown sentinel in a preview) never makes a violation.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["mandatory", "advisory", "disabled"]
Severity = Literal["low", "medium", "high", "critical"]
UNKNOWN = "[unknown]"
#: the CLI's placeholder for a value a preview does not know yet (pulumi.runtime.rpc.UNKNOWN)
CLI_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
#: what the prod-stateful-protected policy covers when the project declares no `stateful` patterns
DEFAULT_STATEFUL = ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster", "aws:ebs/volume:Volume", "aws:s3/bucket:Bucket",
                    "aws:s3/bucketV2:BucketV2", "aws:kms/key:Key", "eks:index:Cluster", "aws:eks/cluster:Cluster",
                    "kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:core/v1:Namespace")


@dataclass(frozen=True)
class Subject:
    """One resource as a policy sees it: type, name, URN, its inputs, and whether Pulumi protects it."""

    urn: str
    type: str
    name: str
    props: Mapping[str, Any]
    protect: bool = False


@dataclass(frozen=True)
class Context:
    """What a policy knows of the stack: its name, its ``<project>:environment`` config value, and settings."""

    stack: str
    environment: str | None = None
    #: ``type`` or ``type::name`` globs of resources that hold data (environments.yaml ``defaults.stateful``)
    stateful: tuple[str, ...] = DEFAULT_STATEFUL
    #: the version support calendar on a day (``automation.config.lifecycle.Lifecycle.to_policy_config``): ``today``,
    #: ``warn_days``, and per product (``eks``, ``rds_mysql``) version -> [end of standard, end of extended
    #: support] as ISO dates. None: not known (the version policies then check only what needs no date)
    calendar: Mapping[str, Any] | None = None

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def personal(self) -> bool:
        return self.environment == "personal"


ResourceCheck = Callable[[Subject, Context], Iterable[str]]
StackCheck = Callable[[Sequence[Subject], Context], Iterable[tuple[Subject, str]]]


@dataclass(frozen=True)
class Policy:
    name: str
    #: what it requires and how to fix a violation (shown with every violation)
    description: str
    severity: Severity
    #: the resource types a resource check applies to (None: every type)
    types: tuple[str, ...] | None = None
    check: ResourceCheck | None = None
    #: a check over the whole stack (which resources exist together), reporting per resource
    check_stack: StackCheck | None = None
    level: Level = "mandatory"
    #: the controls it implements (CIS, AWS Foundational Security Best Practices, Checkov)
    controls: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Violation:
    policy: str
    level: Level
    urn: str
    type: str
    name: str
    message: str
    fix: str
    severity: Severity
    #: the reason of the waiver that covers it (then it never blocks); None: not waived
    waived: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.policy, self.urn, self.message

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "level": self.level, "severity": self.severity, "urn": self.urn,
                "type": self.type, "name": self.name, "message": self.message, "fix": self.fix, "waived": self.waived}


@dataclass(frozen=True)
class Waiver:
    """One policy waived for the resources a ``type::name`` glob matches, with the reason (recorded in reports)."""

    policy: str
    resource: str
    reason: str

    def covers(self, policy: str, subject: Subject) -> bool:
        return policy == self.policy and (fnmatch.fnmatchcase(f"{subject.type}::{subject.name}", self.resource)
                                          or fnmatch.fnmatchcase(subject.urn, self.resource))


# -- helpers ------------------------------------------------------------------------------------------------
def known(value: Any) -> bool:
    return value is not None and value != UNKNOWN and value != CLI_UNKNOWN


def get(props: Mapping[str, Any], path: str) -> Any:
    value: Any = props
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _is(props: Mapping[str, Any], path: str, expected: Any) -> bool:
    """True unless the value is known and differs (absent counts as differing)."""
    value = get(props, path)
    if value == UNKNOWN or value == CLI_UNKNOWN:
        return True
    return bool(value == expected)


def _require(props: Mapping[str, Any], path: str, expected: Any, what: str) -> list[str]:
    return [] if _is(props, path, expected) else [f"{path} must be {json.dumps(expected)} ({what})"]


WORKLOADS = {"kubernetes:apps/v1:Deployment": "spec.template.spec", "kubernetes:apps/v1:StatefulSet": "spec.template.spec",
             "kubernetes:apps/v1:DaemonSet": "spec.template.spec", "kubernetes:batch/v1:Job": "spec.template.spec",
             "kubernetes:batch/v1:CronJob": "spec.jobTemplate.spec.template.spec"}
LONG_RUNNING = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet")
EKS = ("eks:index:Cluster", "aws:eks/cluster:Cluster")
#: components whose own registration the real CLI sends the pack with no inputs ({}): seen for this program's own
#: components under the real CLI (tests/data/analyzer/k8s-personal-stack.json: ghost:apps:Ghost is {}), and
#: pulumi-eks's cluster is a remote component. Judging {} would flag settings it does not lack (every eks-* policy
#: would block the first real preview), so such an empty registration is not judged: the provider resource the
#: component creates (aws:eks/cluster:Cluster) is. Offline, the mock runtime gives the component its inputs.
COMPONENTS = ("eks:index:Cluster",)

SECRET_NAME = re.compile(r"pass(word)?|secret|token|api[-_]?key|private[-_]?key|credential", re.IGNORECASE)


def opaque(subject: Subject) -> bool:
    """A component registration the real CLI sent without inputs: nothing to judge (its resources are judged)."""
    return subject.type in COMPONENTS and not subject.props


def _eks_settings(subject: Subject) -> Mapping[str, Any]:
    """pulumi-eks's component takes the endpoint settings at the top; aws:eks/cluster:Cluster under vpcConfig."""
    if subject.type == "aws:eks/cluster:Cluster":
        vpc = subject.props.get("vpcConfig")
        return vpc if isinstance(vpc, Mapping) else {}
    return subject.props


def _containers(subject: Subject) -> list[Mapping[str, Any]]:
    pod = get(subject.props, WORKLOADS[subject.type]) or {}
    found = [c for key in ("initContainers", "containers") for c in (pod.get(key) or []) if isinstance(c, Mapping)]
    return found


# -- AWS ----------------------------------------------------------------------------------------------------
def _eks_private_endpoint(s: Subject, ctx: Context) -> list[str]:
    eks = _eks_settings(s)
    out = _require(eks, "endpointPrivateAccess", True, "the nodes and pods reach the API privately")
    public = eks.get("endpointPublicAccess")
    cidrs = eks.get("publicAccessCidrs")
    if public is not False and known(public) and known(cidrs) and not cidrs:
        out.append("endpointPublicAccess is on without publicAccessCidrs, which means 0.0.0.0/0: list the office/VPN "
                   "ranges, or turn the public endpoint off")
    return out


def _eks_open_endpoint_in_prod(s: Subject, ctx: Context) -> list[str]:
    if not ctx.production:
        return []
    cidrs = _eks_settings(s).get("publicAccessCidrs")
    if isinstance(cidrs, list) and any(c in ("0.0.0.0/0", "::/0") for c in cidrs):
        return ["publicAccessCidrs contains 0.0.0.0/0 in production: the API endpoint is open to the world"]
    return []


def _eks_secrets_encrypted(s: Subject, ctx: Context) -> list[str]:
    if s.type == "aws:eks/cluster:Cluster":
        return [] if s.props.get("encryptionConfig") else ["encryptionConfig is not set: Kubernetes secrets are not "
                                                           "envelope-encrypted with a KMS key"]
    return [] if s.props.get("encryptionConfigKeyArn") else [
        "encryptionConfigKeyArn is not set: Kubernetes secrets are not envelope-encrypted with a KMS key"]


CONTROL_PLANE_LOGS = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def _eks_logs(s: Subject, ctx: Context) -> list[str]:
    logs = s.props.get("enabledClusterLogTypes")
    if not known(logs):
        return []
    missing = sorted(set(CONTROL_PLANE_LOGS) - set(logs or []))
    return [f"enabledClusterLogTypes misses {', '.join(missing)}"] if missing else []


def _eks_version(s: Subject, ctx: Context) -> list[str]:
    version = s.props.get("version")
    if not known(version):
        return []
    if not isinstance(version, str) or not re.fullmatch(r"1\.(\d+)", version):
        return [f"version {version!r} is not a pinned Kubernetes minor version (1.NN)"]
    if ctx.calendar is None:
        return [] if int(version.split(".")[1]) >= 32 else [f"Kubernetes {version} is out of EKS support: use 1.32 or newer"]
    found = _support(ctx, "eks", version)
    if found is None:
        listed = ", ".join(sorted(ctx.calendar.get("eks") or {}, key=_vkey))
        return [f"Kubernetes {version} is not in the version support table (automation/prices/lifecycle.yaml): pin a "
                f"listed version ({listed}) or add its row with its source"]
    today, _, end_extended, successor = found
    if today >= end_extended:
        return [f"Kubernetes {version} left EKS extended support on {end_extended}: EKS upgrades such clusters itself; "
                f"{_hint('eks', successor)}"]
    return []


# -- version support (the calendar: automation/prices/lifecycle.yaml, given by the engine) ------------------------
_PRODUCT_TEXT = {"eks": ("Kubernetes", "EKS", "config kubernetesVersion, one minor per change"),
                 "rds_mysql": ("MySQL", "RDS", "config dbEngineVersion")}


def _vkey(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _pinned(s: Subject) -> tuple[str, str] | None:
    """(product, version key) a resource pins: an EKS cluster's minor, an RDS for MySQL instance's major."""
    if s.type in EKS:
        version = s.props.get("version")
        return ("eks", version) if known(version) and isinstance(version, str) else None
    if s.type == "aws:rds/instance:Instance" and s.props.get("engine") == "mysql":
        version = s.props.get("engineVersion")
        if known(version) and isinstance(version, str):
            return "rds_mysql", ".".join(version.split(".")[:2])
    return None


def _support(ctx: Context, product: str, version: str) -> tuple[dt.date, dt.date, dt.date, str | None] | None:
    """(today, end of standard support, end of extended support, next listed version), or None if unlisted."""
    assert ctx.calendar is not None
    rows = ctx.calendar.get(product) or {}
    row = rows.get(version)
    if not row:
        return None
    later = sorted((v for v in rows if _vkey(v) > _vkey(version)), key=_vkey)
    return (dt.date.fromisoformat(str(ctx.calendar["today"])), dt.date.fromisoformat(str(row[0])),
            dt.date.fromisoformat(str(row[1])), later[0] if later else None)


def _hint(product: str, successor: str | None) -> str:
    where = _PRODUCT_TEXT[product][2]
    return f"upgrade to {successor} ({where})" if successor else f"upgrade to a supported version ({where})"


def _past_standard(s: Subject, ctx: Context) -> str | None:
    pinned = _pinned(s) if ctx.calendar is not None else None
    found = _support(ctx, *pinned) if pinned else None
    if pinned is None or found is None:
        return None
    today, end_standard, end_extended, successor = found
    if today < end_standard:
        return None
    name, vendor, _ = _PRODUCT_TEXT[pinned[0]]
    cost = ("$0.60 instead of $0.10 per cluster hour" if pinned[0] == "eks"
            else "RDS Extended Support per vCPU-hour, standby included")
    return (f"{name} {pinned[1]} left {vendor} standard support on {end_standard}: billed extended support ({cost}) "
            f"until {end_extended}; {_hint(pinned[0], successor)}")


def _version_support(s: Subject, ctx: Context) -> list[str]:
    past = _past_standard(s, ctx) if ctx.production else None
    return [past] if past else []


def _version_support_ending(s: Subject, ctx: Context) -> list[str]:
    pinned = _pinned(s) if ctx.calendar is not None else None
    found = _support(ctx, *pinned) if pinned else None
    if pinned is None or found is None:
        return []
    today, end_standard, _, successor = found
    days = (end_standard - today).days
    if days <= 0:
        past = _past_standard(s, ctx)
        return [past] if past and not ctx.production else []
    warn = int((ctx.calendar or {}).get("warn_days", 90))
    if days > warn:
        return []
    name, vendor, _ = _PRODUCT_TEXT[pinned[0]]
    return [f"{name} {pinned[1]} leaves {vendor} standard support on {end_standard} (in {days} days): "
            f"{_hint(pinned[0], successor)} before it"]


def _imdsv2(s: Subject, ctx: Context) -> list[str]:
    meta = s.props.get("metadataOptions")
    if meta is not None and not known(meta):
        return []
    meta = meta or {}
    out = []
    if meta.get("httpTokens") not in ("required", UNKNOWN, CLI_UNKNOWN):
        out.append("metadataOptions.httpTokens must be \"required\" (IMDSv2)")
    hop = meta.get("httpPutResponseHopLimit")
    if known(hop) and hop != 1:
        out.append("metadataOptions.httpPutResponseHopLimit must be 1 (pods cannot reach the node's credentials)")
    return out


def _kms_rotation(s: Subject, ctx: Context) -> list[str]:
    return _require(s.props, "enableKeyRotation", True, "yearly automatic rotation")


def _rds_not_public(s: Subject, ctx: Context) -> list[str]:
    return _require(s.props, "publiclyAccessible", False, "the database is reached from the cluster only")


def _rds_encrypted(s: Subject, ctx: Context) -> list[str]:
    return _require(s.props, "storageEncrypted", True, "storage, backups and snapshots encrypted at rest")


def _rds_backups(s: Subject, ctx: Context) -> list[str]:
    out = []
    days = s.props.get("backupRetentionPeriod")
    if days is None:
        out.append("backupRetentionPeriod is not set (AWS then keeps 1 day): keep backups at least 7 days")
    elif known(days) and (not isinstance(days, (int, float)) or days < 7):
        out.append(f"backupRetentionPeriod is {days}: keep backups at least 7 days")
    if ctx.production:
        out += _require(s.props, "skipFinalSnapshot", False, "production keeps a final snapshot")
    return out


def _rds_production_ha(s: Subject, ctx: Context) -> list[str]:
    if not ctx.production:
        return []
    return (_require(s.props, "multiAz", True, "a standby in another zone")
            + _require(s.props, "deletionProtection", True, "no accidental delete"))


def _rds_maintenance(s: Subject, ctx: Context) -> list[str]:
    out = _require(s.props, "autoMinorVersionUpgrade", True, "security patches") + _require(
        s.props, "copyTagsToSnapshot", True, "snapshots stay attributable")
    logs = s.props.get("enabledCloudwatchLogsExports")
    if known(logs) and not {"error", "slowquery"} <= set(logs or []):
        out.append("enabledCloudwatchLogsExports must include error and slowquery")
    return out


def _opens_mysql_to_cidrs(rule: Mapping[str, Any]) -> list[Any]:
    """The CIDRs an ingress rule (a rule resource's inputs, or one inline ``ingress`` entry) opens 3306 to. Protocol
    ``-1`` (all traffic) covers every port whatever fromPort/toPort say (AWS ignores them then)."""
    protocol = str(rule.get("protocol", rule.get("ipProtocol", ""))).lower()
    if protocol not in ("-1", "all"):
        low, high = rule.get("fromPort"), rule.get("toPort")
        if not isinstance(low, (int, float)) or not isinstance(high, (int, float)) or not low <= 3306 <= high:
            return []
        if protocol not in ("tcp", "6", ""):
            return []
    cidrs: list[Any] = []
    for key in ("cidrIpv4", "cidrIpv6", "cidrBlocks", "ipv6CidrBlocks"):
        value = rule.get(key)
        cidrs += [c for c in (value if isinstance(value, list) else [value]) if c and known(c)]
    return cidrs


def _db_port_from_security_group(s: Subject, ctx: Context) -> list[str]:
    if s.type == "aws:ec2/securityGroupRule:SecurityGroupRule" and s.props.get("type") != "ingress":
        return []
    rules = s.props.get("ingress") if s.type == "aws:ec2/securityGroup:SecurityGroup" else [s.props]
    out = []
    for rule in rules if isinstance(rules, list) else []:
        cidrs = _opens_mysql_to_cidrs(rule) if isinstance(rule, Mapping) else []
        if cidrs:
            out.append(f"MySQL (3306) is open to {', '.join(map(str, cidrs))}: allow it from the cluster's security "
                       "group only (referencedSecurityGroupId)")
    return out


def _log_retention(s: Subject, ctx: Context) -> list[str]:
    days = s.props.get("retentionInDays")
    if days is None or days == 0:
        return ["retentionInDays is not set: logs are kept (and billed) forever"]
    return []


def _default_sg_closed(s: Subject, ctx: Context) -> list[str]:
    out = []
    for key in ("ingress", "egress"):
        value = s.props.get(key)
        if value is None or (known(value) and value):
            out.append(f"{key} must be [] (the default security group allows nothing)")
    return out


def _subnet_no_public_ip(s: Subject, ctx: Context) -> list[str]:
    return [] if s.props.get("mapPublicIpOnLaunch") in (False, None, UNKNOWN, CLI_UNKNOWN) else [
        "mapPublicIpOnLaunch must be false (nothing gets a public IP by default)"]


def _iam_no_wildcard(s: Subject, ctx: Context) -> list[str]:
    out = []
    for key in ("policy", "assumeRolePolicy", "inlinePolicies"):
        doc = s.props.get(key)
        docs = [d.get("policy") for d in doc if isinstance(d, Mapping)] if isinstance(doc, list) else [doc]
        for text in docs:
            if not isinstance(text, str) or not known(text) or text == "[secret]":
                continue
            try:
                statements = json.loads(text).get("Statement", [])
            except (ValueError, AttributeError):
                out.append(f"{key} is not a JSON policy document")
                continue
            for st in statements if isinstance(statements, list) else [statements]:
                actions = st.get("Action", []) if isinstance(st, Mapping) else []
                actions = actions if isinstance(actions, list) else [actions]
                wild = [a for a in actions if isinstance(a, str) and "*" in a]
                if wild:
                    out.append(f"{key} allows wildcard actions {', '.join(wild)}: name each action")
                if isinstance(st, Mapping) and st.get("Effect", "Allow") == "Allow" and "NotAction" in st:
                    out.append(f"{key} allows NotAction (every action but those listed): name each action in Action")
    return out


def _vpc_flow_logs(subjects: Sequence[Subject], ctx: Context) -> list[tuple[Subject, str]]:
    vpcs = [s for s in subjects if s.type == "aws:ec2/vpc:Vpc"]
    logs = [s for s in subjects if s.type == "aws:ec2/flowLog:FlowLog" and s.props.get("trafficType") in ("ALL", UNKNOWN, CLI_UNKNOWN)]
    if vpcs and len(logs) < len(vpcs):
        return [(v, "no VPC flow log with trafficType ALL: add an aws.ec2.FlowLog to CloudWatch Logs") for v in vpcs]
    return []


# -- Kubernetes ---------------------------------------------------------------------------------------------
def _pod_hardening(s: Subject, ctx: Context) -> list[str]:
    pod = get(s.props, WORKLOADS[s.type]) or {}
    out = []
    if pod.get("automountServiceAccountToken") is not False:
        out.append("automountServiceAccountToken must be false (no API token in the pod)")
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(host) is True:
            out.append(f"{host} must not be true (the pod would share the node's namespace)")
    pod_sc = pod.get("securityContext") or {}
    for c in _containers(s):
        sc = c.get("securityContext") or {}
        name = c.get("name", "?")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"container {name}: securityContext.allowPrivilegeEscalation must be false")
        if sc.get("readOnlyRootFilesystem") is not True:
            out.append(f"container {name}: securityContext.readOnlyRootFilesystem must be true (mount an emptyDir for /tmp)")
        if sc.get("privileged") is True:
            out.append(f"container {name}: securityContext.privileged must not be true")
        # the container's own setting wins over the pod's (Pod Security "restricted" refuses an explicit false)
        non_root = sc.get("runAsNonRoot") if "runAsNonRoot" in sc else pod_sc.get("runAsNonRoot")
        if non_root is not True:
            out.append(f"container {name}: runAsNonRoot must be true")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            out.append(f"container {name}: securityContext.capabilities.drop must include ALL")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"container {name}: seccompProfile.type must be RuntimeDefault")
    return out


def _resources_and_probes(s: Subject, ctx: Context) -> list[str]:
    out = []
    for c in _containers(s):
        name = c.get("name", "?")
        resources = c.get("resources") or {}
        for kind in ("requests", "limits"):
            missing = [r for r in ("cpu", "memory") if not (resources.get(kind) or {}).get(r)]
            if missing:
                out.append(f"container {name}: resources.{kind} misses {', '.join(missing)}")
    if s.type in LONG_RUNNING:
        pod = get(s.props, WORKLOADS[s.type]) or {}
        for c in pod.get("containers") or []:
            for probe in ("readinessProbe", "livenessProbe"):
                if isinstance(c, Mapping) and not c.get(probe):
                    out.append(f"container {c.get('name', '?')}: no {probe}")
    return out


def _no_secret_in_env(s: Subject, ctx: Context) -> list[str]:
    out = []
    for c in _containers(s):
        for env in c.get("env") or []:
            if isinstance(env, Mapping) and "value" in env and SECRET_NAME.search(str(env.get("name", ""))):
                out.append(f"container {c.get('name', '?')}: env {env.get('name')} holds a literal value: take it "
                           "from a Secret (valueFrom.secretKeyRef) or a mounted secret file")
    return out


def _image_pinned(s: Subject, ctx: Context) -> list[str]:
    out = []
    for c in _containers(s):
        image = c.get("image")
        if not isinstance(image, str) or not known(image):
            continue
        tail = image.rsplit("/", 1)[-1]
        if "@sha256:" not in image and (":" not in tail or tail.endswith(":latest")):
            out.append(f"container {c.get('name', '?')}: image {image} is not pinned to a version (never latest)")
    return out


def _namespace_restricted(s: Subject, ctx: Context) -> list[str]:
    labels = get(s.props, "metadata.labels") or {}
    if labels.get("pod-security.kubernetes.io/enforce") != "restricted":
        return ["metadata.labels[\"pod-security.kubernetes.io/enforce\"] must be \"restricted\" (Pod Security admission)"]
    return []


def _default_deny(subjects: Sequence[Subject], ctx: Context) -> list[tuple[Subject, str]]:
    denied: set[str] = set()
    for s in subjects:
        if s.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy":
            spec = s.props.get("spec") or {}
            if spec.get("podSelector") == {} and {"Ingress", "Egress"} <= set(spec.get("policyTypes") or []):
                denied.add(str(get(s.props, "metadata.namespace")))
    out = []
    for s in subjects:
        if s.type == "kubernetes:core/v1:Namespace":
            name = get(s.props, "metadata.name")
            if known(name) and str(name) not in denied:
                out.append((s, f"namespace {name} has no default-deny NetworkPolicy (podSelector {{}}, policyTypes "
                               "Ingress and Egress)"))
    return out


def _alb_https(s: Subject, ctx: Context) -> list[str]:
    ann = get(s.props, "metadata.annotations") or {}
    if not any(str(k).startswith("alb.ingress.kubernetes.io/") for k in ann):
        return []  # not an ALB ingress (another controller's, or one whose load balancer settings live elsewhere)
    out = []
    if "routing.http.drop_invalid_header_fields.enabled=true" not in str(ann.get("alb.ingress.kubernetes.io/load-balancer-attributes", "")):
        out.append("annotation alb.ingress.kubernetes.io/load-balancer-attributes must set "
                   "routing.http.drop_invalid_header_fields.enabled=true")
    if ann.get("alb.ingress.kubernetes.io/certificate-arn") and ann.get("alb.ingress.kubernetes.io/ssl-redirect") != "443":
        out.append("with a certificate, annotation alb.ingress.kubernetes.io/ssl-redirect must be \"443\" (HTTP redirects to HTTPS)")
    return out


# -- project rules ------------------------------------------------------------------------------------------
def _stateful_protected(s: Subject, ctx: Context) -> list[str]:
    if not ctx.production:
        return []
    holds_data = any(fnmatch.fnmatchcase(s.type, p) or fnmatch.fnmatchcase(f"{s.type}::{s.name}", p) for p in ctx.stateful)
    return ["holds data in production but is not protected: set the resource option protect=True (a destroy or "
            "replacement then stops until someone unprotects it on purpose)"] if holds_data and not s.protect else []


def _personal_no_aws(s: Subject, ctx: Context) -> list[str]:
    if not ctx.personal or not (s.type.startswith("aws:") or s.type.startswith("eks:")):
        return []
    return ["a personal stack creates no AWS resources: it shares its template's cluster and database"]


POLICIES: tuple[Policy, ...] = (
    Policy("eks-private-endpoint", "The EKS API endpoint is private; a public endpoint lists explicit CIDRs (config "
           "clusterPublicAccessCidrs), never an implicit 0.0.0.0/0.", "high", EKS, _eks_private_endpoint,
           controls=("EKS.1", "CIS-EKS 5.4.2")),
    Policy("eks-no-open-endpoint-in-prod", "In production the API endpoint is never open to 0.0.0.0/0: set "
           "clusterPublicAccessCidrs to the office/VPN ranges or [] (public endpoint off).", "critical", EKS,
           _eks_open_endpoint_in_prod),
    Policy("eks-secrets-encrypted", "Kubernetes secrets are envelope-encrypted with a KMS key (encryptionConfigKeyArn "
           "from the cluster's aws.kms.Key).", "high", EKS, _eks_secrets_encrypted, controls=("EKS.3",)),
    Policy("eks-control-plane-logs", "All five control plane log types go to CloudWatch (enabledClusterLogTypes).",
           "medium", EKS, _eks_logs, controls=("EKS.8",)),
    Policy("eks-supported-version", "The Kubernetes version is pinned (config kubernetesVersion) to a version of the "
           "support table (automation/prices/lifecycle.yaml) that EKS still supports (standard or extended support).",
           "medium", EKS, _eks_version, controls=("EKS.2",)),
    Policy("version-support", "Production runs versions in standard support: past the end of standard support "
           "(automation/prices/lifecycle.yaml) the cluster or database is billed extended support; upgrade (config "
           "kubernetesVersion one minor per change, dbEngineVersion), or waive with a reason while the upgrade is "
           "planned.", "high", (*EKS, "aws:rds/instance:Instance"), _version_support),
    Policy("version-support-ending", "Versions announce the end of their standard support: from warn_days (90) before "
           "it on every stack, and past it on stacks other than production (where version-support applies).", "low",
           (*EKS, "aws:rds/instance:Instance"), _version_support_ending, level="advisory"),
    Policy("imdsv2-required", "Instances require IMDSv2 with a hop limit of 1 (metadataOptions); Auto Mode nodes "
           "already do: do not add launch templates or instances that weaken it.", "high",
           ("aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance"), _imdsv2, controls=("EC2.8", "EC2.170")),
    Policy("kms-key-rotation", "KMS keys rotate yearly (enableKeyRotation=True).", "medium", ("aws:kms/key:Key",),
           _kms_rotation, controls=("KMS.4",)),
    Policy("rds-not-public", "No public RDS: publiclyAccessible=False, in private subnets.", "critical",
           ("aws:rds/instance:Instance",), _rds_not_public, controls=("RDS.2",)),
    Policy("rds-storage-encrypted", "RDS storage is encrypted (storageEncrypted=True; it cannot be turned on later "
           "without a snapshot restore).", "high", ("aws:rds/instance:Instance",), _rds_encrypted, controls=("RDS.3",)),
    Policy("rds-backups", "Backups are kept at least 7 days (config dbBackupRetentionDays); production keeps a final "
           "snapshot (dbFinalSnapshot).", "high", ("aws:rds/instance:Instance",), _rds_backups, controls=("RDS.11",)),
    Policy("rds-production-ha", "In production the database is Multi-AZ with deletion protection (config dbMultiAz, "
           "dbDeletionProtection).", "high", ("aws:rds/instance:Instance",), _rds_production_ha,
           controls=("RDS.5", "RDS.8")),
    Policy("rds-maintenance-logs-tags", "Minor version upgrades on, error and slowquery logs exported, tags copied "
           "to snapshots.", "low", ("aws:rds/instance:Instance",), _rds_maintenance, controls=("RDS.13", "RDS.9", "RDS.17")),
    Policy("mysql-only-from-security-group", "MySQL (3306) is allowed from the cluster's security group only, never "
           "from a CIDR (rule resources, a security group's inline ingress, and all-traffic rules).", "critical",
           ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:ec2/securityGroupRule:SecurityGroupRule",
            "aws:ec2/securityGroup:SecurityGroup"), _db_port_from_security_group,
           controls=("RDS.2",)),
    Policy("log-retention", "Log groups have a retention period (config flowLogRetentionDays).", "low",
           ("aws:cloudwatch/logGroup:LogGroup",), _log_retention),
    Policy("vpc-flow-logs", "Every VPC has flow logs of ALL traffic to CloudWatch Logs.", "medium",
           check_stack=_vpc_flow_logs, controls=("EC2.6",)),
    Policy("default-security-group-closed", "The VPC's default security group has no rules (manage it with "
           "aws.ec2.DefaultSecurityGroup, ingress=[] and egress=[]).", "medium",
           ("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",), _default_sg_closed, controls=("EC2.2",)),
    Policy("subnet-no-public-ip", "No subnet gives instances public IPs by default (mapPublicIpOnLaunch=False).",
           "medium", ("aws:ec2/subnet:Subnet",), _subnet_no_public_ip, controls=("EC2.15",)),
    Policy("iam-no-wildcard-actions", "IAM policies name each action; no '*' in Action, no Allow with NotAction.",
           "high",
           ("aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"), _iam_no_wildcard,
           controls=("IAM.1", "IAM.21")),
    Policy("k8s-pod-hardening", "Pods run restricted: no service-account token, no host namespaces, not privileged, "
           "non-root (the container's own runAsNonRoot wins over the pod's), no privilege escalation, read-only root "
           "filesystem (emptyDir for /tmp), capabilities drop ALL, seccomp RuntimeDefault.", "high",
           tuple(WORKLOADS), _pod_hardening, controls=("CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_23", "CKV_K8S_28",
                                                       "CKV_K8S_29", "CKV_K8S_30", "CKV_K8S_31", "CKV_K8S_37", "CKV_K8S_38")),
    Policy("k8s-resources-and-probes", "Every container sets CPU and memory requests and limits; long-running "
           "workloads have readiness and liveness probes.", "medium", tuple(WORKLOADS), _resources_and_probes,
           controls=("CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_10", "CKV_K8S_11", "CKV_K8S_12", "CKV_K8S_13")),
    Policy("k8s-no-secret-in-env", "No secret as a literal env value: take it from a Secret (valueFrom.secretKeyRef) "
           "or a mounted secret file.", "critical", tuple(WORKLOADS), _no_secret_in_env, controls=("CKV_K8S_35",)),
    Policy("k8s-image-pinned", "Images are pinned to a version or digest, never latest.", "medium", tuple(WORKLOADS),
           _image_pinned, controls=("CKV_K8S_14", "CKV_K8S_43")),
    Policy("k8s-namespace-restricted", "Namespaces enforce the restricted Pod Security Standard "
           "(label pod-security.kubernetes.io/enforce: restricted).", "high", ("kubernetes:core/v1:Namespace",),
           _namespace_restricted, controls=("CKV_K8S_21",)),
    Policy("k8s-default-deny-network-policy", "Every namespace has a default-deny NetworkPolicy (podSelector {}, "
           "policyTypes Ingress and Egress); workloads then get explicit allow policies.", "high",
           check_stack=_default_deny, controls=("CKV2_K8S_6",)),
    Policy("alb-https-and-headers", "Load balancers drop invalid header fields, and with a certificate redirect HTTP "
           "to HTTPS (ALB ingress annotations).", "medium", ("kubernetes:networking.k8s.io/v1:Ingress",), _alb_https,
           controls=("ELB.1", "ELB.4")),
    Policy("prod-stateful-protected", "In production, what holds data (databases, volumes, keys, the cluster, "
           "namespaces; environments.yaml defaults.stateful) has Pulumi's protect resource option.", "high", None,
           _stateful_protected),
    Policy("personal-no-aws", "A personal stack creates no AWS resources: it shares its template's cluster and "
           "database through a StackReference.", "high", None, _personal_no_aws),
)
BY_NAME = {p.name: p for p in POLICIES}


def evaluate(subjects: Iterable[Subject], ctx: Context, levels: Mapping[str, Level] | None = None,
             waivers: Sequence[Waiver] = ()) -> tuple[Violation, ...]:
    """Every violation of every policy not disabled, with its level (``levels`` overrides the policy's default),
    sorted mandatory first. A waived violation is kept, with ``waived`` set to the reason."""
    levels = levels or {}
    items = [s for s in subjects if not s.type.startswith("pulumi:")]
    found: list[Violation] = []

    def add(policy: Policy, level: Level, subject: Subject, message: str) -> None:
        waiver = next((w for w in waivers if w.covers(policy.name, subject)), None)
        found.append(Violation(policy.name, level, subject.urn, subject.type, subject.name, message, policy.description,
                               policy.severity, waiver.reason if waiver else None))

    for policy in POLICIES:
        level = levels.get(policy.name, policy.level)
        if level == "disabled":
            continue
        if policy.check is not None:
            for subject in items:
                if (policy.types is None or subject.type in policy.types) and not opaque(subject):
                    for message in policy.check(subject, ctx):
                        add(policy, level, subject, message)
        if policy.check_stack is not None:
            for subject, message in policy.check_stack(items, ctx):
                add(policy, level, subject, message)
    order = {"mandatory": 0, "advisory": 1}
    return tuple(sorted(found, key=lambda v: (v.waived is not None, order.get(v.level, 2), v.policy, v.urn, v.message)))
