"""What the Ghost workload runs on: either built here (environment stacks) or shared (personal stacks).

An environment stack builds the network, the EKS cluster, the RDS instance and the cluster add-ons
and exports what a personal stack needs (``SHARED_OUTPUTS``). A personal stack reads those outputs
through a StackReference instead of building its own, so it costs minutes and almost no money.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

import pulumi
import pulumi_kubernetes as k8s

from infra.addons import ClusterAddons, ClusterAddonsArgs
from infra.cluster import Cluster, ClusterArgs
from infra.database import Database, DatabaseArgs
from infra.network import Network, NetworkArgs
from infra.settings import Settings

#: The MySQL user an environment stack's Ghost bootstrap creates for the personal stacks on its database: its one
#: privilege is EXECUTE on the procedures of apps/ghost/scripts/provisioner.sql (create, re-password and drop a
#: ghost_<name> database and its user). Environment stacks that host no personal stacks remove it.
PROVISIONER_USER = "ghost_provisioner"
#: The schema of those procedures (outside the ghost_<name> pattern).
PROVISIONING_SCHEMA = "gitops_provisioning"


@dataclass(frozen=True)
class SharedPlatform:
    """The contract between an environment stack and the personal stacks on it: what the environment
    exports and a personal stack reads through its StackReference, one frozen type for both sides."""

    kubeconfig: pulumi.Output[Any]
    db_host: pulumi.Output[Any]
    db_port: pulumi.Output[Any]
    #: a MySQL user that can only call the provisioner's procedures (create, re-password and drop a ghost_<name>
    #: database and its user): personal stacks never get the RDS master password. None on an environment that
    #: hosts no personal stacks (prod): neither is created nor exported there
    db_provisioner_user: pulumi.Output[Any] | None
    db_provisioner_password: pulumi.Output[Any] | None
    storage_class_name: pulumi.Output[Any]
    #: personal stacks share one ALB: the environment's ingress class whose params set an ingress group
    personal_ingress_class_name: pulumi.Output[Any]
    vpc_cidr: pulumi.Output[Any]

    #: fields that are secrets (exported as secret outputs)
    SECRETS: ClassVar[frozenset[str]] = frozenset({"kubeconfig", "db_provisioner_password"})
    #: exports of the provisioner, only on environment stacks that host personal stacks (hostsPersonalStacks)
    PROVISIONER: ClassVar[frozenset[str]] = frozenset({"dbProvisionerUser", "dbProvisionerPassword"})

    @staticmethod
    def export_name(field_name: str) -> str:
        head, *rest = field_name.split("_")
        return head + "".join(part.capitalize() for part in rest)

    @classmethod
    def names(cls) -> dict[str, bool]:
        """Export name -> secret?, for every field of the contract."""
        return {cls.export_name(f.name): f.name in cls.SECRETS for f in fields(cls)}

    def exports(self) -> dict[str, pulumi.Output[object]]:
        """What the environment exports: every field that has a value."""
        return {self.export_name(f.name): getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_reference(cls, ref: pulumi.StackReference) -> SharedPlatform:
        return cls(**{f.name: ref.require_output(cls.export_name(f.name)) for f in fields(cls)})


#: Outputs of an environment stack that personal stacks consume (name -> secret?): the contract's names.
SHARED_OUTPUTS: dict[str, bool] = SharedPlatform.names()


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
    #: environment stacks: the personal stacks' provisioner (user, password) their Ghost bootstrap installs, or
    #: (user, None) where no personal stacks are hosted (the bootstrap removes it); None on personal stacks
    provisioner: tuple[str, pulumi.Output[str] | None] | None = None


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
        key_deletion_window_days=30 if settings.is_production else 7, protect=settings.is_production,
        support_type=settings.cluster_support_type, tags=tags))
    database = Database(prefix, DatabaseArgs(
        vpc_id=network.vpc_id, subnet_ids=network.private_subnet_ids, client_security_group_id=cluster.security_group_id,
        engine_version=settings.db_engine_version, instance_class=settings.db_instance_class,
        allocated_storage_gb=settings.db_allocated_storage_gb, max_allocated_storage_gb=settings.db_max_allocated_storage_gb,
        backup_retention_days=settings.db_backup_retention_days, multi_az=settings.db_multi_az,
        deletion_protection=settings.db_deletion_protection, final_snapshot=settings.db_final_snapshot,
        apply_immediately=settings.db_apply_immediately, lifecycle_support=settings.db_lifecycle_support,
        personal_stacks=settings.hosts_personal_stacks, tags=tags))
    addons = ClusterAddons(prefix, ClusterAddonsArgs(retain_volumes=settings.is_production,
                                                     public_subnet_ids=network.public_subnet_ids,
                                                     private_subnet_ids=network.private_subnet_ids,
                                                     node_security_group_id=cluster.security_group_id,
                                                     node_role_name=cluster.node_role_name),
                           opts=pulumi.ResourceOptions(providers=[cluster.provider]))
    vpc_cidr = pulumi.Output.from_input(settings.vpc_cidr)
    exports: dict[str, pulumi.Output[object]] = {
        "vpcId": network.vpc_id, "privateSubnetIds": pulumi.Output.all(*network.private_subnet_ids),
        "clusterName": cluster.name, "clusterSecurityGroupId": cluster.security_group_id,
        "ingressClassName": addons.ingress_class_name,
    }
    hosts = database.provisioner_password is not None
    shared = SharedPlatform(
        kubeconfig=cluster.kubeconfig, db_host=database.host, db_port=database.port,
        db_provisioner_user=pulumi.Output.from_input(PROVISIONER_USER) if hosts else None,
        db_provisioner_password=database.provisioner_password,
        storage_class_name=addons.storage_class_name,
        personal_ingress_class_name=addons.shared_ingress_class_name, vpc_cidr=vpc_cidr)
    exports.update(shared.exports())  # the contract personal stacks read; prod: everything but the provisioner
    provisioner = (PROVISIONER_USER, database.provisioner_password)
    return Platform(cluster.provider, database.host, database.port, database.admin_user, database.admin_password,
                    addons.storage_class_name, addons.ingress_class_name, vpc_cidr, exports, provisioner)


def shared_platform(settings: Settings) -> Platform:
    assert settings.shared_stack is not None  # guaranteed by settings validation
    shared = SharedPlatform.from_reference(pulumi.StackReference("shared", stack_name=settings.shared_stack))
    provider = k8s.Provider("shared-k8s", kubeconfig=shared.kubeconfig, enable_server_side_apply=True)
    # a personal stack's bootstrap works with the provisioner: it can only call the procedures for its ghost_<name>
    assert shared.db_provisioner_user is not None and shared.db_provisioner_password is not None  # required outputs
    return Platform(provider, shared.db_host, shared.db_port, shared.db_provisioner_user, shared.db_provisioner_password,
                    shared.storage_class_name, shared.personal_ingress_class_name, shared.vpc_cidr,
                    {"sharedStack": pulumi.Output.from_input(settings.shared_stack)})
