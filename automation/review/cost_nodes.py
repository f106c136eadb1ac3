"""Node compute: the pods the workloads request, packed onto the instance types Auto Mode may choose for a node
pool, priced as a range from the cheapest fit to the dearest."""

from __future__ import annotations

from collections.abc import Mapping

from automation.config.prices import Instance, Price
from automation.model.snapshot import Resource
from automation.review.cost_context import EKS_TYPES, NODE_POOL, WORKLOADS, Pod, PricingContext, get_path, k8s_quantity, number
from automation.review.cost_model import Line


def _pods(ctx: PricingContext) -> tuple[list[Pod], list[str]]:
    """Each replica of each Deployment and StatefulSet, by its containers' requests (limits if only those)."""
    pods: list[Pod] = []
    notes: list[str] = []
    for res in ctx.of_type(*WORKLOADS):
        replicas = number(get_path(res.inputs, "spec.replicas"))
        count = 1 if replicas is None else int(replicas)
        cpu = mem = 0.0
        for c in get_path(res.inputs, "spec.template.spec.containers") or []:
            resources = c.get("resources") or {} if isinstance(c, Mapping) else {}
            req = resources.get("requests") or {}
            lim = resources.get("limits") or {}
            c_cpu = k8s_quantity(req.get("cpu", lim.get("cpu")))
            c_mem = k8s_quantity(req.get("memory", lim.get("memory")))
            if c_cpu is None or c_mem is None:
                notes.append(f"{res.name}: a container without cpu/memory requests counts as 0")
            cpu += (c_cpu or 0.0) * 1000
            mem += (c_mem or 0.0) / 2.0**20
        pods += [Pod(cpu, mem) for _ in range(count)]
    return pods, notes


def _candidates(ctx: PricingContext, pool: Resource | None, shared: bool = False) -> list[tuple[str, Instance]]:
    """Instance types a pool allows; a stack on a shared cluster (``shared``): every type of the table, the shared
    cluster's pools deciding (this project's `workloads` pool allows every family the table has)."""
    assert ctx.region is not None
    types = ctx.region.instances.types
    allowed: dict[str, set[str]] = {}
    if pool is not None:
        for req in get_path(pool.inputs, "spec.template.spec.requirements") or []:
            if isinstance(req, Mapping) and req.get("operator") == "In" and isinstance(req.get("values"), list):
                allowed[str(req.get("key"))] = {str(v) for v in req["values"]}
    elif not shared:
        allowed["eks.amazonaws.com/instance-category"] = {"c", "m", "r"}  # Auto Mode's built-in general-purpose pool
    cats = allowed.get("eks.amazonaws.com/instance-category")
    arches = allowed.get("kubernetes.io/arch")
    names = allowed.get("node.kubernetes.io/instance-type")
    return sorted(((n, i) for n, i in types.items()
                   if (cats is None or i.category in cats) and (arches is None or i.arch in arches)
                   and (names is None or n in names)), key=lambda x: (x[1].usd, x[0]))


def _node_cost(ctx: PricingContext, inst: Instance) -> float:
    assert ctx.region is not None
    fee = ctx.region.price("eks_auto_mode_fee").usd
    root = ctx.region.node.root_volume_gib * ctx.region.price("ebs_gp3_gb").usd
    return inst.usd * (1 + fee) * ctx.hours + root


def _fits(ctx: PricingContext, inst: Instance, cpu_m: float, mem_mib: float) -> bool:
    assert ctx.region is not None
    node = ctx.region.node
    return (cpu_m <= inst.vcpu * 1000 - node.reserved_cpu_m
            and mem_mib <= inst.memory_gib * 1024 - node.reserved_memory_mib)


def _pack(ctx: PricingContext, inst: Instance, pods: list[Pod]) -> int | None:
    """Nodes of type ``inst`` that first-fit-decreasing packs ``pods`` onto; None if one pod does not fit."""
    bins: list[list[float]] = []
    for pod in sorted(pods, key=lambda p: (p.memory_mib, p.cpu_m), reverse=True):
        if not _fits(ctx, inst, pod.cpu_m, pod.memory_mib):
            return None
        for b in bins:
            if _fits(ctx, inst, b[0] + pod.cpu_m, b[1] + pod.memory_mib):
                b[0] += pod.cpu_m
                b[1] += pod.memory_mib
                break
        else:
            bins.append([pod.cpu_m, pod.memory_mib])
    return len(bins)


def price_compute(ctx: PricingContext) -> None:
    """Auto Mode compute for the workloads' requests: a range from packed onto the cheapest allowed instance
    type (low) to one node per pod on the cheapest type each fits (high). Node = instance + Auto Mode fee +
    its root volume. A stack without a cluster and node pool of its own (a personal stack on a shared cluster)
    ranges from 0 (its pods fit the spare room of the shared nodes) to the nodes it would add."""
    assert ctx.region is not None
    pods, notes = _pods(ctx)
    if not pods:
        return
    pool = next(iter(ctx.of_type(NODE_POOL)), None)
    owns_cluster = pool is not None or bool(ctx.of_type(*EKS_TYPES))
    anchor = pool or next(iter(ctx.of_type(*EKS_TYPES)), None) or ctx.of_type(*WORKLOADS)[0]
    candidates = _candidates(ctx, pool, shared=not owns_cluster)
    cpu = sum(p.cpu_m for p in pods)
    mem = sum(p.memory_mib for p in pods)
    plans = [(n * _node_cost(ctx, inst), n, name, inst) for name, inst in candidates
             if (n := _pack(ctx, inst, pods)) is not None]
    if not plans:
        ctx.unpriced(anchor, "node compute", f"no instance type of the price table fits a pod of {len(pods)} "
                     "allowed by the node pool")
        return
    low, n_low, name_low, _ = min(plans, key=lambda p: (p[0], p[2]))
    per_pod = []
    for pod in pods:
        fitting = [(_node_cost(ctx, i), n) for n, i in candidates if _fits(ctx, i, pod.cpu_m, pod.memory_mib)]
        per_pod.append(min(fitting))
    high = sum(c for c, _ in per_pod)
    source = ctx.region.instances
    price = Price(usd=ctx.region.instances.types[name_low].usd, unit=f"{name_low} hour (+{ctx.region.price('eks_auto_mode_fee').usd:.0%} "
                  f"Auto Mode fee, +{ctx.region.node.root_volume_gib:g} GiB gp3 root volume per node)",
                  source=source.source, as_of=source.as_of, checked=source.checked, key=f"instances.{name_low}")
    what = f"{n_low} × {name_low} packed; ≤ {len(pods)} node(s)"
    families = sorted({i.category for _, i in candidates})
    assumption = (f"Auto Mode chooses the instances; assumed: {len(pods)} pod(s) requesting {cpu:g}m CPU and "
                  f"{mem:g} MiB in all, packed onto the cheapest on-demand type of families {', '.join(families)} the "
                  "node pool allows (low), up to one node per pod (high)")
    if not owns_cluster:
        low = 0.0
        assumption = ("runs on a shared cluster's nodes: $0 if its pods fit their spare room, up to the nodes it "
                      "would add; " + assumption)
    if notes:
        assumption += "; " + "; ".join(notes)
    ctx.lines.append(Line(anchor.urn, anchor.type, anchor.name, "node compute (Auto Mode)", "fixed", what, low, high,
                          price, assumption))
