"""Cluster: EKS in Auto Mode through pulumi-eks, KMS-encrypted secrets, and its Kubernetes provider."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

#: EKS.8: every control-plane log type.
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


@dataclass(frozen=True)
class ClusterArgs:
    """``private_subnet_ids`` are the cluster's only subnets: Auto Mode's built-in NodeClass places nodes in
    the cluster's subnets, so nodes never land in a public subnet. Load balancers get the public subnets
    explicitly (the ALB IngressClassParams in infra/addons.py), not through the cluster."""

    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    kubernetes_version: str
    public_access_cidrs: tuple[str, ...]
    admin_role_arns: tuple[str, ...] = ()
    key_deletion_window_days: int = 30
    #: EKS upgradePolicy.supportType at the end of standard support: STANDARD (EKS upgrades) or EXTENDED (billed)
    support_type: str = "STANDARD"
    #: Pulumi `protect` on the secrets key and the cluster (production): a destroy or replacement stops first
    protect: bool = False
    tags: dict[str, str] = field(default_factory=dict)


class Cluster(pulumi.ComponentResource):
    """An EKS Auto Mode cluster: AWS manages nodes (IMDSv2, hop limit 1), load balancers and EBS volumes."""

    name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    node_role_name: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ghost:infra:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=args.protect)

        # EKS.3 / KMS.4: envelope encryption of Kubernetes secrets with a rotating key.
        key = aws.kms.Key(f"{name}-secrets", description=f"{name}: EKS secrets envelope encryption",
                          enable_key_rotation=True, deletion_window_in_days=args.key_deletion_window_days,
                          tags=args.tags, opts=kept)
        aws.kms.Alias(f"{name}-secrets", name=f"alias/{name}-eks-secrets", target_key_id=key.key_id, opts=child)

        access_entries = {
            # keyed by the role (not list position): reordering clusterAdminRoleArns replaces nothing
            f"admin-{arn.rsplit('/', 1)[-1]}": eks.AccessEntryArgs(
                principal_arn=arn,
                access_policies={"cluster-admin": eks.AccessPolicyAssociationArgs(
                    policy_arn=CLUSTER_ADMIN_POLICY,
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"))})
            for arn in args.admin_role_arns
        }
        cluster = eks.Cluster(
            f"{name}-eks",
            vpc_id=args.vpc_id,
            private_subnet_ids=list(args.private_subnet_ids),  # no public subnets: see ClusterArgs
            version=args.kubernetes_version,
            # explicit, never AWS's silent default (EXTENDED): config clusterSupportType, README "Version support"
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type=args.support_type),
            # Only the built-in `system` pool (tainted for critical add-ons): workloads run on our own NodePool
            # (infra/addons.py), whose NodeClass enforces NetworkPolicy and keeps nodes in private subnets. The
            # built-in `general-purpose` pool would schedule them on nodes that enforce neither.
            auto_mode=eks.AutoModeOptionsArgs(enabled=True, compute_config=eks.ClusterComputeConfigArgs(node_pools=["system"])),
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=access_entries or None,
            skip_default_node_group=True,
            skip_default_security_groups=True,  # Auto Mode nodes use the EKS-created cluster security group
            endpoint_private_access=True,
            endpoint_public_access=bool(args.public_access_cidrs),
            public_access_cidrs=list(args.public_access_cidrs) or None,
            encryption_config_key_arn=key.arn,
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            create_oidc_provider=False,
            # Auto Mode serves cluster DNS itself; the coredns add-on pulumi-eks adds by default cannot run on an
            # Auto Mode cluster and fails after 20 minutes in DEGRADED (pulumi/pulumi-eks#1726).
            coredns_addon_options=eks.CoreDnsAddonOptionsArgs(enabled=False),
            tags=args.tags,
            opts=kept,
        )
        self.name = cluster.eks_cluster.name
        self.kubeconfig = pulumi.Output.secret(cluster.kubeconfig_json)
        self.security_group_id = cluster.cluster_security_group_id
        self.node_role_name = cluster.auto_mode_node_role_name
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig,
                                     enable_server_side_apply=True, opts=child)
        self.register_outputs({"name": self.name, "securityGroupId": self.security_group_id})
