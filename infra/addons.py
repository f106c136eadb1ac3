"""Cluster-wide Kubernetes objects for Auto Mode: an encrypted gp3 StorageClass and the ALB IngressClass.

They are cluster-scoped, so only environment stacks (which own the cluster) create them; personal
stacks read their names from the integration stack's outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

AUTO_MODE_EBS_PROVISIONER = "ebs.csi.eks.amazonaws.com"
AUTO_MODE_ALB_CONTROLLER = "eks.amazonaws.com/alb"


@dataclass(frozen=True)
class ClusterAddonsArgs:
    retain_volumes: bool
    #: the internet-facing ALB's subnets, pinned (the cluster itself only has the private subnets)
    public_subnet_ids: Sequence[pulumi.Input[str]]
    storage_class_name: str = "gp3-encrypted"
    ingress_class_name: str = "alb"
    #: personal stacks' class: all their Ingresses join one ALB (an ingress group) instead of one ALB each
    shared_ingress_class_name: str = "alb-personal"
    shared_ingress_group: str = "ghost-personal"
    #: for the workloads' NodeClass: nodes only in these (private) subnets, in this security group, with this role
    private_subnet_ids: Sequence[pulumi.Input[str]] = ()
    node_security_group_id: pulumi.Input[str] | None = None
    node_role_name: pulumi.Input[str] | None = None
    node_class_name: str = "private-netpol"
    node_pool_name: str = "workloads"


class ClusterAddons(pulumi.ComponentResource):
    storage_class_name: pulumi.Output[str]
    ingress_class_name: pulumi.Output[str]
    shared_ingress_class_name: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ghost:infra:ClusterAddons", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)  # children inherit the explicit Kubernetes provider

        storage = k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.storage_class_name),
            provisioner=AUTO_MODE_EBS_PROVISIONER,
            parameters={"type": "gp3", "encrypted": "true"},
            reclaim_policy="Retain" if args.retain_volumes else "Delete",
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            opts=child)
        self.storage_class_name = storage.metadata.apply(lambda m: str(m.name))
        self._network_policy_nodes(name, args)
        self.ingress_class_name = self._alb_class(f"{name}-alb", args.ingress_class_name, args, group=None)
        # Auto Mode takes ingress groups only from IngressClassParams (not the group.name annotation)
        self.shared_ingress_class_name = self._alb_class(f"{name}-alb-personal", args.shared_ingress_class_name, args,
                                                         group=args.shared_ingress_group)
        self.register_outputs({"storageClassName": self.storage_class_name,
                               "ingressClassName": self.ingress_class_name,
                               "sharedIngressClassName": self.shared_ingress_class_name})

    def _network_policy_nodes(self, name: str, args: ClusterAddonsArgs) -> None:
        """NetworkPolicy is enforced on Auto Mode only on nodes of a NodeClass with ``networkPolicy`` and with the
        ``amazon-vpc-cni`` ConfigMap's controller switch on (AWS: "Use network policies with EKS Auto Mode"). Our
        NodeClass also keeps nodes in the private subnets and refuses public IPs; our NodePool uses it, and the
        cluster keeps only the built-in `system` pool (infra/cluster.py), so every workload lands here."""
        child = pulumi.ResourceOptions(parent=self)
        k8s.core.v1.ConfigMap(
            f"{name}-vpc-cni", metadata=k8s.meta.v1.ObjectMetaArgs(name="amazon-vpc-cni", namespace="kube-system"),
            data={"enable-network-policy-controller": "true"}, opts=child)
        node_class = k8s.apiextensions.CustomResource(
            f"{name}-node-class", api_version="eks.amazonaws.com/v1", kind="NodeClass",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.node_class_name),
            spec={
                "role": args.node_role_name,
                "subnetSelectorTerms": [{"id": subnet} for subnet in args.private_subnet_ids],
                "securityGroupSelectorTerms": [{"id": args.node_security_group_id}],
                "networkPolicy": "DefaultAllow",  # pods no policy selects keep working; ours select every Ghost pod
                "networkPolicyEventLogs": "Disabled",
                "advancedNetworking": {"associatePublicIPAddress": False},
            }, opts=child)
        k8s.apiextensions.CustomResource(
            f"{name}-node-pool", api_version="karpenter.sh/v1", kind="NodePool",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.node_pool_name),
            spec={"template": {"spec": {
                "nodeClassRef": {"group": "eks.amazonaws.com", "kind": "NodeClass", "name": args.node_class_name},
                "requirements": [
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
                    {"key": "eks.amazonaws.com/instance-category", "operator": "In", "values": ["c", "m", "r", "t"]},
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]},
                ]}},
                "limits": {"cpu": "32", "memory": "128Gi"},
                "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "5m"}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[node_class]))

    def _alb_class(self, resource: str, class_name: str, args: ClusterAddonsArgs, group: str | None) -> pulumi.Output[str]:
        spec: dict[str, object] = {"scheme": "internet-facing", "ipAddressType": "ipv4",
                                   "subnets": {"ids": list(args.public_subnet_ids)}}
        if group is not None:
            spec["group"] = {"name": group}
        params = k8s.apiextensions.CustomResource(
            f"{resource}-params", api_version="eks.amazonaws.com/v1", kind="IngressClassParams",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=class_name), spec=spec, opts=pulumi.ResourceOptions(parent=self))
        ingress_class = k8s.networking.v1.IngressClass(
            resource,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=class_name),
            spec=k8s.networking.v1.IngressClassSpecArgs(
                controller=AUTO_MODE_ALB_CONTROLLER,
                parameters=k8s.networking.v1.IngressClassParametersReferenceArgs(
                    api_group="eks.amazonaws.com", kind="IngressClassParams", name=class_name)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[params]))
        return ingress_class.metadata.apply(lambda m: str(m.name))
