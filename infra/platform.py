"""What the Ghost workload runs on: either built here (environment stacks) or shared (personal stacks).

An environment stack builds the network, the EKS cluster, the RDS instance and the cluster add-ons
and exports what a personal stack needs (``SHARED_OUTPUTS``). A personal stack reads those outputs
through a StackReference instead of building its own, so it costs minutes and almost no money.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra.addons import ClusterAddons, ClusterAddonsArgs
from infra.cluster import Cluster, ClusterArgs
from infra.database import Database, DatabaseArgs
from infra.network import Network, NetworkArgs
from infra.settings import Settings

#: Outputs of an environment stack that personal stacks consume (name -> secret?).
SHARED_OUTPUTS: dict[str, bool] = {
    "kubeconfig": True,
    "dbHost": False,
    "dbPort": False,
    "dbAdminUser": False,
    "dbAdminPassword": True,
    "storageClassName": False,
    "ingressClassName": False,
    "vpcCidr": False,
}


@dataclass(frozen=True)
class Platform:
    k8s_provider: k8s.Provider
    db_host: pulumi.Output[str]
    db_port: pulumi.Output[int]
    db_admin_user: pulumi.Output[str]
    db_admin_password: pulumi.Output[str]
    storage_class_name: pulumi.Output[str]
    ingress_class_name: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    exports: dict[str, pulumi.Output[object]]


def build_platform(settings: Settings) -> Platform:
    tags = settings.resource_tags()
    prefix = settings.stack
    network = Network(prefix, NetworkArgs(
        cidr=settings.vpc_cidr, availability_zones=settings.availability_zones,
        nat_gateways=settings.nat_gateways, flow_log_retention_days=settings.flow_log_retention_days,
        region=settings.region, tags=tags))
    cluster = Cluster(prefix, ClusterArgs(
        vpc_id=network.vpc_id,
        private_subnet_ids=network.private_subnet_ids, kubernetes_version=settings.kubernetes_version,
        public_access_cidrs=settings.cluster_public_access_cidrs, admin_role_arns=settings.cluster_admin_role_arns,
        key_deletion_window_days=30 if settings.is_production else 7, protect=settings.is_production, tags=tags))
    database = Database(prefix, DatabaseArgs(
        vpc_id=network.vpc_id, subnet_ids=network.private_subnet_ids, client_security_group_id=cluster.security_group_id,
        engine_version=settings.db_engine_version, instance_class=settings.db_instance_class,
        allocated_storage_gb=settings.db_allocated_storage_gb, max_allocated_storage_gb=settings.db_max_allocated_storage_gb,
        backup_retention_days=settings.db_backup_retention_days, multi_az=settings.db_multi_az,
        deletion_protection=settings.db_deletion_protection, final_snapshot=settings.db_final_snapshot,
        apply_immediately=settings.db_apply_immediately, tags=tags))
    addons = ClusterAddons(prefix, ClusterAddonsArgs(retain_volumes=settings.is_production,
                                                     public_subnet_ids=network.public_subnet_ids),
                           opts=pulumi.ResourceOptions(providers=[cluster.provider]))
    vpc_cidr = pulumi.Output.from_input(settings.vpc_cidr)
    exports: dict[str, pulumi.Output[object]] = {
        "vpcId": network.vpc_id, "privateSubnetIds": pulumi.Output.all(*network.private_subnet_ids),
        "clusterName": cluster.name, "clusterSecurityGroupId": cluster.security_group_id,
        "kubeconfig": cluster.kubeconfig, "dbHost": database.host, "dbPort": database.port,
        "dbAdminUser": database.admin_user, "dbAdminPassword": database.admin_password,
        "storageClassName": addons.storage_class_name, "ingressClassName": addons.ingress_class_name,
        "vpcCidr": vpc_cidr,
    }
    return Platform(cluster.provider, database.host, database.port, database.admin_user, database.admin_password,
                    addons.storage_class_name, addons.ingress_class_name, vpc_cidr, exports)


def shared_platform(settings: Settings) -> Platform:
    assert settings.shared_stack is not None  # guaranteed by settings validation
    shared = pulumi.StackReference("shared", stack_name=settings.shared_stack)
    out = {name: shared.require_output(name) for name in SHARED_OUTPUTS}
    provider = k8s.Provider("shared-k8s", kubeconfig=out["kubeconfig"], enable_server_side_apply=True)
    return Platform(provider, out["dbHost"], out["dbPort"], out["dbAdminUser"], out["dbAdminPassword"],
                    out["storageClassName"], out["ingressClassName"], out["vpcCidr"],
                    {"sharedStack": pulumi.Output.from_input(settings.shared_stack)})
