"""Database: RDS MySQL in private subnets, reachable on 3306 only from the cluster's security group."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

ADMIN_USER = "ghostadmin"
MYSQL_PORT = 3306
#: Characters RDS refuses in a master password ('/', '@', '"' and space) are left out.
RDS_CA = "rds-ca-rsa2048-g1"
#: config dbLifecycleSupport -> the RDS API's EngineLifecycleSupport
LIFECYCLE_SUPPORT = {"extended": "open-source-rds-extended-support", "disabled": "open-source-rds-extended-support-disabled"}
PASSWORD_SPECIALS = "!#$%^&*()-_=+[]{}<>:?"  # noqa: S105 - a character set, not a password


def parameter_group_family(engine_version: str) -> str:
    """``8.4`` / ``8.4.3`` -> ``mysql8.4``."""
    major, minor = engine_version.split(".")[:2]
    return f"mysql{major}.{minor}"


@dataclass(frozen=True)
class DatabaseArgs:
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    client_security_group_id: pulumi.Input[str]
    engine_version: str
    instance_class: str
    allocated_storage_gb: int
    max_allocated_storage_gb: int
    backup_retention_days: int
    multi_az: bool
    deletion_protection: bool
    final_snapshot: bool
    #: apply modifications now (may restart the instance) rather than in the next maintenance window
    apply_immediately: bool = False
    #: RDS engine lifecycle support: "extended" (RDS Extended Support after the end of standard support, billed)
    #: or "disabled" (RDS upgrades the major version); honoured by RDS when the instance is created
    lifecycle_support: str = "extended"
    #: the instance hosts personal stacks: a password for their provisioner user (see apps/ghost/scripts/provisioner.sql)
    personal_stacks: bool = False
    tags: dict[str, str] = field(default_factory=dict)


class Database(pulumi.ComponentResource):
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    admin_user: pulumi.Output[str]
    admin_password: pulumi.Output[str]
    #: the personal stacks' provisioner's password; None where no personal stacks are hosted
    provisioner_password: pulumi.Output[str] | None

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ghost:infra:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        password = random.RandomPassword(f"{name}-admin", length=32, special=True,
                                         override_special=PASSWORD_SPECIALS, opts=child)
        # for the personal stacks' provisioner MySQL user (created by the environment's Ghost bootstrap)
        provisioner = (random.RandomPassword(f"{name}-provisioner", length=32, special=True,
                                             override_special=PASSWORD_SPECIALS, opts=child)
                       if args.personal_stacks else None)
        subnets = aws.rds.SubnetGroup(f"{name}-subnets", subnet_ids=list(args.subnet_ids), tags=args.tags, opts=child)
        sg = aws.ec2.SecurityGroup(f"{name}-mysql", vpc_id=args.vpc_id,
                                   description="MySQL: 3306 from the EKS cluster security group only",
                                   tags={**args.tags, "Name": f"{name}-mysql"}, opts=child)
        aws.vpc.SecurityGroupIngressRule(f"{name}-mysql-from-cluster", security_group_id=sg.id,
                                         referenced_security_group_id=args.client_security_group_id,
                                         ip_protocol="tcp", from_port=MYSQL_PORT, to_port=MYSQL_PORT,
                                         description="MySQL from EKS pods and nodes", opts=child)
        params = aws.rds.ParameterGroup(
            f"{name}-mysql", family=parameter_group_family(args.engine_version),
            description="Ghost: utf8mb4, TLS required, slow query log",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="character_set_server", value="utf8mb4"),
                aws.rds.ParameterGroupParameterArgs(name="collation_server", value="utf8mb4_0900_ai_ci"),
                aws.rds.ParameterGroupParameterArgs(name="require_secure_transport", value="1"),
                aws.rds.ParameterGroupParameterArgs(name="slow_query_log", value="1"),
                aws.rds.ParameterGroupParameterArgs(name="long_query_time", value="2"),
                aws.rds.ParameterGroupParameterArgs(name="log_output", value="FILE"),
            ],
            tags=args.tags, opts=child)
        final_id = (random.RandomId(f"{name}-final-snapshot", byte_length=4, opts=child)
                    if args.final_snapshot else None)
        instance = aws.rds.Instance(
            f"{name}-mysql",
            engine="mysql",
            engine_version=args.engine_version,
            engine_lifecycle_support=LIFECYCLE_SUPPORT[args.lifecycle_support],
            instance_class=args.instance_class,
            allocated_storage=args.allocated_storage_gb,
            max_allocated_storage=args.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            # The CA Ghost and the bootstrap verify against (mysql2's Amazon RDS profile bundles it), pinned rather
            # than whatever the account's default happens to be.
            ca_cert_identifier=RDS_CA,
            username=ADMIN_USER,
            password=password.result,
            port=MYSQL_PORT,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[sg.id],
            parameter_group_name=params.name,
            publicly_accessible=False,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.final_snapshot,
            # unique per instance: a recreated instance's final snapshot never collides with an earlier one's
            final_snapshot_identifier=final_id.hex.apply(lambda h: f"{name}-mysql-final-{h}") if final_id else None,
            auto_minor_version_upgrade=True,
            enabled_cloudwatch_logs_exports=["error", "slowquery"],
            copy_tags_to_snapshot=True,
            apply_immediately=args.apply_immediately,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.deletion_protection,
                                        additional_secret_outputs=["password"]),
        )
        self.host = instance.address
        self.port = instance.port
        self.admin_user = pulumi.Output.from_input(ADMIN_USER)
        self.admin_password = pulumi.Output.secret(password.result)
        self.provisioner_password = pulumi.Output.secret(provisioner.result) if provisioner else None
        self.register_outputs({"host": self.host, "port": self.port})
