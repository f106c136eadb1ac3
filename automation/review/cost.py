"""What a stack costs per month, from what it declares: a pure model over a dated price table. No network.

Input: the resources of a stack (type, name, inputs: a synth's, or the real CLI's step events'), its AWS
region, the price table (``automation/prices/aws.yaml``) and the project's ``costs.yaml`` (usage assumptions
per stack, prices of types the table does not know, types that bill nothing). Output: an :class:`Estimate`, one
:class:`Line` per thing billed, each naming its price and that price's source. Never silently zero:

- fixed charges (hours, GB-months) are priced;
- usage-based ones (NAT and ALB traffic, log ingestion) are "depends on usage: $X per unit", or priced from the
  project's assumption for the stack, which the line says;
- what cannot be known from the plan (the instances Auto Mode will choose) is an assumption the line states,
  and a range (``low``..``high``) where that is more honest;
- a billable type the table does not know is an *unpriced* line, and totals say how many there are.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from automation.config import lifecycle
from automation.config.lifecycle import Lifecycle
from automation.config.prices import PROJECT_FILE, CustomPrice, Price, PriceTable, ProjectCosts, load_table
from automation.model.snapshot import Resource
from automation.review.cost_context import EKS_TYPES, NODE_POOL, PricingContext, get_path, k8s_quantity, number
from automation.review.cost_model import UNKNOWN, Estimate, Line, money
from automation.review.cost_nodes import price_compute

#: Types that bill nothing themselves (AWS charges nothing for them, or they are Kubernetes API objects that
#: start nothing billable: the workloads' compute is priced on the node pool, volumes on their claims).
FREE_TYPES = frozenset({
    "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable", "aws:ec2/route:Route",
    "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:ec2/securityGroupRule:SecurityGroupRule", "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policy:Policy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/instanceProfile:InstanceProfile",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "aws:kms/alias:Alias", "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/parameterGroup:ParameterGroup", "aws:ec2/flowLog:FlowLog", "aws:eks/accessEntry:AccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    "random:index/randomId:RandomId", "random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString",
    "pulumi:pulumi:StackReference", "pulumi:pulumi:Stack",
    "kubernetes:core/v1:Namespace", "kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Secret",
    "kubernetes:core/v1:ServiceAccount", "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "kubernetes:storage.k8s.io/v1:StorageClass",
    "kubernetes:eks.amazonaws.com/v1:IngressClassParams", "kubernetes:eks.amazonaws.com/v1:NodeClass",
    "kubernetes:rbac.authorization.k8s.io/v1:Role", "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
    "kubernetes:policy/v1:PodDisruptionBudget", "kubernetes:core/v1:LimitRange", "kubernetes:core/v1:ResourceQuota",
    "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet",
    "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob",
})


_FREE_NOTES = {
    "aws:ec2/flowLog:FlowLog": "its records are billed as log ingestion of its log group",
    "kubernetes:apps/v1:Deployment": "its pods' requests are priced as node compute",
    "kubernetes:apps/v1:StatefulSet": "its pods' requests are priced as node compute",
    "kubernetes:apps/v1:DaemonSet": "its pods' requests are priced as node compute",
    "kubernetes:batch/v1:Job": "runs to completion: not a monthly charge",
    "kubernetes:batch/v1:CronJob": "runs now and then: not estimated",
}



def _matches(res: Resource, pattern: str) -> bool:
    return fnmatch.fnmatchcase(res.type, pattern) or fnmatch.fnmatchcase(f"{res.type}::{res.name}", pattern)


def estimate(resources: Iterable[Resource], *, stack: str, region: str | None, project: ProjectCosts | None = None,
             table: PriceTable | None = None, on: dt.date | None = None, versions: Lifecycle | None = None,
             hosts_others: bool | None = None) -> Estimate:
    """The estimate of the 730 hours from the start of ``on`` (default: today, :func:`automation.config.lifecycle.today`)
    of a stack that declares ``resources`` in ``region``; versions' support is looked up in ``versions``.
    ``hosts_others``: other stacks run on this one (environments.yaml), so a shared load balancer class it declares
    bills here (False: nobody uses it, $0; None: not known, a range)."""
    table = table or load_table()
    project = project or ProjectCosts()
    on = on or lifecycle.today()
    versions = versions or lifecycle.load()
    region_prices = table.regions.get(region or "")  # no region: no prices
    ctx = PricingContext(stack=stack, region=region_prices, region_name=region, hours=table.hours_per_month, project=project,
                   usage=project.usage_for(stack), resources=tuple(resources), on=on, lifecycle=versions,
                   hosts_others=hosts_others)
    for res in ctx.resources:
        _price_resource(ctx, res)
    if region_prices is not None:
        price_compute(ctx)
        ctx.apply_usage()
    as_of = region_prices.instances.as_of if region_prices else ""
    stale = versions.stale(on)
    return Estimate(stack=stack, region=region, lines=tuple(ctx.lines), table_as_of=as_of, priced_from=on.isoformat(),
                    notes=(stale,) if stale else (), versions=tuple(dict.fromkeys(ctx.versions)))


def _price_resource(ctx: PricingContext, res: Resource) -> None:
    custom = next((p for p in ctx.project.prices if _matches(res, p.match)), None)
    if custom is not None:
        _custom(ctx, res, custom)
        return
    if any(_matches(res, p) for p in ctx.project.free):
        ctx.free(res, f"declared free in {PROJECT_FILE}")
        return
    if res.type.startswith("pulumi:providers:"):
        ctx.free(res)
        return
    if res.type in FREE_TYPES:
        ctx.free(res, _FREE_NOTES.get(res.type, ""))
        return
    if res.type in ("kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:core/v1:Service",
                    "kubernetes:networking.k8s.io/v1:Ingress", "kubernetes:networking.k8s.io/v1:IngressClass", NODE_POOL,
                    *EKS_TYPES) or res.type.startswith("aws:"):
        if ctx.region is None:
            ctx.unpriced(res, res.type, f"no prices for region {ctx.region_name} in automation/prices/aws.yaml"
                         if ctx.region_name else "no aws:region in the stack's config: no prices to look up")
            return
        handler = _HANDLERS.get(res.type)
        if handler is None:
            ctx.unpriced(res, res.type, "the price table does not know this type: add it (README, Cost estimate)")
            return
        handler(ctx, res)
        return
    ctx.unpriced(res, res.type, f"no price known for this type: price it or declare it free in {PROJECT_FILE}")


def _custom(ctx: PricingContext, res: Resource, p: CustomPrice) -> None:
    qty = 1.0
    if p.quantity is not None:
        value = get_path(res.inputs, p.quantity)
        if value is None and p.default_quantity is not None:
            value = p.default_quantity
        found = number(value)
        if found is None:
            ctx.unpriced(res, p.billed, f"input {p.quantity} is {value!r}: not a number ({PROJECT_FILE})")
            return
        qty = found
    factor = ctx.hours if p.hourly else 1.0
    cost = p.usd * qty * factor
    price = Price(usd=p.usd, unit=p.unit, source=p.source, as_of=p.as_of, key=f"{PROJECT_FILE}: {p.match}")
    ctx.lines.append(Line(res.urn, res.type, res.name, p.billed, "fixed", f"{qty:g} {p.unit}", cost, cost, price))


def _nat(ctx: PricingContext, res: Resource) -> None:
    ctx.fixed(res, "NAT gateway hours", "nat_gateway_hour", 1, f"{ctx.hours:g} h", per_hour=True)
    ctx.usage_line(res, "NAT data processed", "nat_gateway_gb")


def _eip(ctx: PricingContext, res: Resource) -> None:
    ctx.fixed(res, "public IPv4 address", "public_ipv4_hour", 1, "1 address", per_hour=True)


def _kms(ctx: PricingContext, res: Resource) -> None:
    rotating = bool(res.inputs.get("enableKeyRotation"))
    ctx.fixed(res, "KMS key", "kms_key_month", 1, "1 key")
    if rotating:
        ctx.fixed(res, "KMS key rotations", "kms_rotation_month", 0, "0–2 rotations", high_qty=2,
                  note="automatic yearly rotation: +$1/month after the first year, +$2 from the second")
    ctx.usage_line(res, "KMS requests", "kms_requests")


def _log_group(ctx: PricingContext, res: Resource) -> None:
    retention = res.inputs.get("retentionInDays")
    ctx.usage_line(res, "log ingestion", "logs_ingest_gb")
    ctx.usage_line(res, "log storage", "logs_storage_gb",
                   note=f"kept {retention} days" if retention not in (None, UNKNOWN) else "kept forever")


def _rds(ctx: PricingContext, res: Resource) -> None:
    assert ctx.region is not None
    inputs = res.inputs
    engine = inputs.get("engine")
    multi = bool(inputs.get("multiAz"))
    az = "Multi-AZ" if multi else "single-AZ"
    klass = inputs.get("instanceClass")
    table = ctx.region.rds_mysql
    if engine not in ("mysql",):
        ctx.unpriced(res, "DB instance hours", f"engine {engine!r}: only RDS for MySQL is in the price table")
    elif klass not in table.classes:
        ctx.unpriced(res, "DB instance hours", f"instance class {klass!r} is not in the price table (rds_mysql)")
    else:
        name = str(klass)
        listed = multi and name in table.multi_az
        hourly = table.multi_az[name] if listed else table.classes[name]
        price = Price(usd=hourly, unit=f"{klass} {'Multi-AZ' if listed else 'single-AZ'} hour", source=table.source,
                      as_of=table.as_of, checked=table.checked,
                      key=f"rds_mysql.multi_az.{klass}" if listed else f"rds_mysql.{klass}")
        n = 2 if multi and not listed else 1
        cost = hourly * n * ctx.hours
        note = ("Multi-AZ: the standby instance is billed too" + ("" if listed else " (twice the single-AZ price)")
                if multi else "")
        qty = f"{n} × {ctx.hours:g} h {klass} ({az})" if not listed else f"{ctx.hours:g} h {klass} ({az})"
        ctx.lines.append(Line(res.urn, res.type, res.name, "DB instance hours", "fixed", qty, cost, cost, price, note))
        _rds_extended(ctx, res, name, multi)
    size = number(inputs.get("allocatedStorage"))
    kind = str(inputs.get("storageType") or "gp2")
    key = {"gp3": "rds_gp3_gb", "gp2": "rds_gp2_gb"}.get(kind)
    if size is None:
        ctx.unpriced(res, "DB storage", f"allocatedStorage is {inputs.get('allocatedStorage')!r}")
    elif key is None:
        ctx.unpriced(res, "DB storage", f"storage type {kind!r} is not in the price table")
    else:
        copies = 2 if multi else 1
        top = number(inputs.get("maxAllocatedStorage"))
        note = ""
        if top and top > size:
            note = (f"storage autoscaling may grow it to {top:g} GB as data grows: "
                    f"{money(ctx.region.price(key).usd * top * copies)} at most")
        ctx.fixed(res, "DB storage", key, size * copies, f"{size:g} GB {kind} × {copies} ({az})", note=note)
    ctx.usage_line(res, "DB backup storage", "rds_backup_gb",
                   note="free up to the allocated storage; beyond it per GB-month")
    if inputs.get("enabledCloudwatchLogsExports"):
        ctx.usage_line(res, "exported DB logs ingestion", "logs_ingest_gb")


def _eks(ctx: PricingContext, res: Resource) -> None:
    assert ctx.region is not None
    if res.type == "eks:index:Cluster" and ctx.of_type("aws:eks/cluster:Cluster"):
        ctx.free(res, "priced on its aws:eks/cluster:Cluster child")
        return
    _eks_hours(ctx, res)
    logs = res.inputs.get("enabledClusterLogTypes")
    if logs:
        ctx.usage_line(res, "control plane logs ingestion", "logs_ingest_gb",
                       note=f"{len(logs)} log type{'' if len(logs) == 1 else 's'} to CloudWatch" if isinstance(logs, list) else "")


def _eks_hours(ctx: PricingContext, res: Resource) -> None:
    """The control plane by the month's support phase: standard, extended (AWS's default ``supportType``), or a
    range for a month that crosses the end of standard support (low: upgraded before the date)."""
    assert ctx.region is not None
    version = res.inputs.get("version")
    ratio = ctx.region.price("eks_cluster_extended").usd / ctx.region.price("eks_cluster_standard").usd
    hours = f"{ctx.hours:g} h"
    if not isinstance(version, str) or version == UNKNOWN:
        ctx.fixed(res, "EKS cluster hours", "eks_cluster_standard", 1, f"{hours} (version not known: standard to "
                  "extended support)", per_hour=True, high_qty=ratio)
        return
    s = lifecycle.support(ctx.lifecycle, "eks", version, ctx.on)
    ctx.versions.append(s.summary())
    if s.phase == "unknown":
        ctx.fixed(res, "EKS cluster hours", "eks_cluster_standard", 1, f"{hours} (Kubernetes {version}: standard to "
                  "extended support)", per_hour=True, high_qty=ratio, note=s.summary())
        return
    assert s.end_standard is not None  # a version the table lists has its dates
    after = lifecycle.hours_after(ctx.on, ctx.hours, s.end_standard)
    support_type = get_path(res.inputs, "upgradePolicy.supportType")
    if support_type == "STANDARD" and after > 0:
        ctx.fixed(res, "EKS cluster hours", "eks_cluster_standard", 1, f"{hours} (Kubernetes {version}, standard "
                  "support)", per_hour=True, note=f"standard support of {version} ends on {s.end_standard}: with "
                  f"upgradePolicy.supportType STANDARD, EKS upgrades the cluster itself then (no extended support "
                  f"charge); {s.upgrade_hint()} before it, on your schedule")
    elif after <= 0:
        days = (s.end_standard - ctx.on).days
        note = (f"standard support ends on {s.end_standard} (in {days} days): {s.upgrade_hint()} before it"
                if days <= ctx.lifecycle.warn_days else "")
        ctx.fixed(res, "EKS cluster hours", "eks_cluster_standard", 1,
                  f"{hours} (Kubernetes {version}, standard support until {s.end_standard})", per_hour=True, note=note)
    elif after >= ctx.hours:
        ctx.fixed(res, "EKS cluster hours", "eks_cluster_extended", 1, f"{hours} (Kubernetes {version}, extended "
                  "support)", per_hour=True, note=f"Kubernetes {version} left standard support on {s.end_standard}: "
                  f"billed extended support (until {s.end_extended}); {s.upgrade_hint()} to pay the standard price")
    else:
        ctx.fixed(res, "EKS cluster hours", "eks_cluster_standard", 1,
                  f"{hours} (Kubernetes {version}: standard support ends {s.end_standard})", per_hour=True,
                  high_qty=((ctx.hours - after) + after * ratio) / ctx.hours,
                  note=f"standard support ends on {s.end_standard}, within this month: up to {after:g} h at the "
                  f"extended support price unless upgraded before ({s.upgrade_hint()})")


def _rds_extended(ctx: PricingContext, res: Resource, klass: str, multi: bool) -> None:
    """RDS Extended Support: per vCPU-hour (standby included) for the hours past the end of standard support."""
    assert ctx.region is not None
    version = res.inputs.get("engineVersion")
    if not isinstance(version, str) or version == UNKNOWN:
        return
    s = lifecycle.support(ctx.lifecycle, "rds_mysql", version, ctx.on)
    ctx.versions.append(s.summary())
    billed = "RDS Extended Support"
    if s.phase == "unknown":
        ctx.unpriced(res, billed, s.summary() + ": whether extended support is billed is not known")
        return
    assert s.end_standard is not None  # a version the table lists has its dates
    after = lifecycle.hours_after(ctx.on, ctx.hours, s.end_standard)
    if after <= 0:
        days = (s.end_standard - ctx.on).days
        if days <= ctx.lifecycle.warn_days:
            ctx.lines.append(Line(res.urn, res.type, res.name, billed, "fixed", "none yet", 0.0, 0.0, None,
                                  f"standard support of MySQL {s.version} ends on {s.end_standard} (in {days} days): "
                                  f"{s.upgrade_hint()} before it"))
        return
    if res.inputs.get("engineLifecycleSupport") == "open-source-rds-extended-support-disabled":
        ctx.lines.append(Line(res.urn, res.type, res.name, billed, "fixed", "disabled", 0.0, 0.0, None,
                              f"MySQL {s.version} left standard support on {s.end_standard}: extended support is "
                              "disabled, so RDS upgrades the major version itself"))
        return
    vcpu = ctx.region.rds_mysql.vcpu.get(klass)
    if vcpu is None:
        ctx.unpriced(res, billed, f"vCPUs of {klass!r} are not in the price table (rds_mysql.vcpu)")
        return
    rate, year = lifecycle.rds_rate(ctx.lifecycle, s.end_standard, ctx.on)
    copies = 2 if multi else 1
    high = rate * vcpu * copies * after
    pricing = ctx.lifecycle.rds_mysql.extended_pricing
    price = Price(usd=rate, unit=f"vCPU-hour (year {year} of extended support)", source=pricing.source,
                  as_of=str(ctx.lifecycle.checked), checked=pricing.checked, key=f"rds_extended_support.year{year}")
    crosses = after < ctx.hours
    ctx.lines.append(Line(res.urn, res.type, res.name, billed, "fixed",
                          f"{vcpu:g} vCPU × {copies} × {after:g} h", 0.0 if crosses else high, high, price,
                          f"MySQL {s.version} {'leaves' if crosses else 'left'} standard support on {s.end_standard}; "
                          f"{s.upgrade_hint()} to stop the charge"))


def _storage_class(ctx: PricingContext, name: Any) -> tuple[str, str]:
    """(EBS volume type, note) of a storage class of this stack, else gp3 assumed."""
    for sc in ctx.of_type("kubernetes:storage.k8s.io/v1:StorageClass"):
        if get_path(sc.inputs, "metadata.name") == name:
            params = sc.inputs.get("parameters") or {}
            return str(params.get("type") or "gp3"), ""
    return "gp3", f"storage class {name!r} is not declared by this stack: gp3 assumed"


def _pvc(ctx: PricingContext, res: Resource) -> None:
    size = k8s_quantity(get_path(res.inputs, "spec.resources.requests.storage"))
    klass = get_path(res.inputs, "spec.storageClassName")
    kind, note = _storage_class(ctx, klass)
    key = {"gp3": "ebs_gp3_gb", "gp2": "ebs_gp2_gb"}.get(kind)
    if size is None:
        ctx.unpriced(res, "EBS volume", "the claim's storage request is not a quantity")
    elif key is None:
        ctx.unpriced(res, "EBS volume", f"volume type {kind!r} is not in the price table")
    else:
        gb = size / 2.0**30
        ctx.fixed(res, "EBS volume", key, gb, f"{gb:g} GiB {kind}", note=note)


def _alb_params(ctx: PricingContext, class_name: Any) -> Mapping[str, Any] | None:
    """The spec of the IngressClassParams behind this stack's ALB IngressClass ``class_name`` ({} if it has none);
    None if the stack declares no such class."""
    for ic in ctx.of_type("kubernetes:networking.k8s.io/v1:IngressClass"):
        if get_path(ic.inputs, "metadata.name") == class_name and get_path(ic.inputs, "spec.controller") == "eks.amazonaws.com/alb":
            params_name = get_path(ic.inputs, "spec.parameters.name")
            for p in ctx.of_type("kubernetes:eks.amazonaws.com/v1:IngressClassParams"):
                if get_path(p.inputs, "metadata.name") == params_name:
                    return dict(p.inputs.get("spec") or {})
            return {}
    return None


def _ingress(ctx: PricingContext, res: Resource) -> None:
    class_name = get_path(res.inputs, "spec.ingressClassName")
    spec = _alb_params(ctx, class_name)
    if spec is None:
        ctx.lines.append(Line(res.urn, res.type, res.name, "load balancer", "fixed", "shared", 0.0, 0.0, None,
                              f"ingress class {class_name!r} belongs to the cluster's stack: its load balancer is "
                              "billed there (this ingress adds only its traffic)"))
        return
    group = get_path(spec, "group.name")
    if group:  # one ALB per group: the group's first ingress carries it
        members = [r for r in ctx.of_type("kubernetes:networking.k8s.io/v1:Ingress")
                   if get_path(_alb_params(ctx, get_path(r.inputs, "spec.ingressClassName")) or {}, "group.name") == group]
        if members and members[0].urn != res.urn:
            ctx.lines.append(Line(res.urn, res.type, res.name, "load balancer", "fixed", "shared", 0.0, 0.0, None,
                                  f"shares the load balancer of group {group!r} with {members[0].name}"))
            return
    ctx.fixed(res, "application load balancer hours", "alb_hour", 1, "730 h", per_hour=True)
    ctx.usage_line(res, "load balancer capacity units", "alb_lcu_hour", per_hour=True,
                   note="average LCUs in use: new connections, active connections, bytes, rule evaluations")
    if get_path(spec, "scheme") == "internet-facing":
        subnets = get_path(spec, "subnets.ids")
        n = len(subnets) if isinstance(subnets, list) and subnets else 0
        if n:
            ctx.fixed(res, "load balancer public IPv4 addresses", "public_ipv4_hour", n, f"{n} addresses (one per subnet)",
                      per_hour=True)
        else:
            ctx.fixed(res, "load balancer public IPv4 addresses", "public_ipv4_hour", 2, "2–6 addresses (one per zone)",
                      per_hour=True, high_qty=6, note="its subnets are chosen by the controller: at least two zones")
    ctx.usage_line(res, "data out to the internet", "data_out_gb")


def _ingress_class(ctx: PricingContext, res: Resource) -> None:
    """An ALB class with a group that no ingress of this stack uses is there for other stacks (dev's
    ``alb-personal`` for personal stacks): their one shared load balancer is billed here, to the stack that
    declares it, from $0 (no such ingress exists) to one ALB."""
    assert ctx.region is not None
    name = get_path(res.inputs, "metadata.name")
    spec = _alb_params(ctx, name)
    group = get_path(spec or {}, "group.name")
    used = any(get_path(r.inputs, "spec.ingressClassName") == name for r in ctx.of_type("kubernetes:networking.k8s.io/v1:Ingress"))
    if not group or used:
        ctx.free(res, "its load balancer is priced on the ingresses that use it" if spec is not None else "")
        return
    if ctx.hosts_others is False:
        ctx.free(res, f"for other stacks' ingresses (group {group!r}), but no stack of environments.yaml runs on "
                 f"{ctx.stack}: no load balancer")
        return
    subnets = get_path(spec or {}, "subnets.ids")
    ips = len(subnets) if isinstance(subnets, list) and subnets else 2
    per_hour = ctx.region.price("alb_hour").usd + ips * ctx.region.price("public_ipv4_hour").usd
    price = ctx.region.price("alb_hour")
    ctx.lines.append(Line(res.urn, res.type, res.name, "shared load balancer (other stacks' ingresses)", "fixed",
                          f"0–{ctx.hours:g} h + {ips} IPv4 addresses", 0.0, per_hour * ctx.hours, price,
                          f"group {group!r}: one ALB for every ingress of other stacks (personal stacks) using class "
                          f"{name!r}, from $0 while none exists; their traffic (LCUs, data out) is not in this figure"))


def _service(ctx: PricingContext, res: Resource) -> None:
    if get_path(res.inputs, "spec.type") != "LoadBalancer":
        ctx.free(res)
        return
    ctx.fixed(res, "network load balancer hours", "nlb_hour", 1, "730 h", per_hour=True)
    ctx.usage_line(res, "network load balancer capacity units", "nlb_nlcu_hour", per_hour=True)


def _node_pool(ctx: PricingContext, res: Resource) -> None:
    pass  # priced with the workloads by price_compute (the pool says which instances; the workloads how many)


_HANDLERS = {
    "aws:ec2/natGateway:NatGateway": _nat, "aws:ec2/eip:Eip": _eip, "aws:kms/key:Key": _kms,
    "aws:cloudwatch/logGroup:LogGroup": _log_group, "aws:rds/instance:Instance": _rds,
    "eks:index:Cluster": _eks, "aws:eks/cluster:Cluster": _eks,
    "kubernetes:core/v1:PersistentVolumeClaim": _pvc, "kubernetes:networking.k8s.io/v1:Ingress": _ingress,
    "kubernetes:core/v1:Service": _service, NODE_POOL: _node_pool,
    "kubernetes:networking.k8s.io/v1:IngressClass": _ingress_class,
}
