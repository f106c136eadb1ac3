"""Network: VPC, public/private subnets over N zones, NAT, routes, flow logs, locked default SG."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class NetworkArgs:
    cidr: str
    availability_zones: tuple[str, ...]
    nat_gateways: Literal["single", "perAz"]
    flow_log_retention_days: int
    region: str
    tags: dict[str, str] = field(default_factory=dict)


def subnet_cidrs(cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """Private subnets take 1/8 of the VPC each (room for pod IPs); public ones 1/64 each, from the top half.

    Resources are named by zone (so their URNs do not depend on list order); CIDRs follow the order of
    ``availabilityZones``, so zones may be appended but not removed or reordered without replacing subnets.
    """
    net = ipaddress.IPv4Network(cidr)
    private = [str(s) for s in list(net.subnets(new_prefix=net.prefixlen + 3))[:zones]]
    top_half = list(net.subnets(new_prefix=net.prefixlen + 1))[1]
    public = [str(s) for s in list(top_half.subnets(new_prefix=net.prefixlen + 6))[:zones]]
    return public, private


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ghost:infra:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.tags

        def named(suffix: str) -> dict[str, str]:
            return {**tags, "Name": f"{name}-{suffix}"}

        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args.cidr, enable_dns_hostnames=True,
                          enable_dns_support=True, tags=named("vpc"), opts=child)
        # EC2.2: the default security group carries no rules at all.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[],
                                     tags=named("default-sg-locked"), opts=child)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=named("igw"), opts=child)

        public_cidrs, private_cidrs = subnet_cidrs(args.cidr, len(args.availability_zones))
        public_rt = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc.id, tags=named("public"), opts=child)
        aws.ec2.Route(f"{name}-public-default", route_table_id=public_rt.id,
                      destination_cidr_block="0.0.0.0/0", gateway_id=igw.id, opts=child)

        public_subnets: list[aws.ec2.Subnet] = []
        private_subnets: list[aws.ec2.Subnet] = []
        nats: list[aws.ec2.NatGateway] = []
        for i, az in enumerate(args.availability_zones):
            pub = aws.ec2.Subnet(
                f"{name}-public-{az}", vpc_id=vpc.id, cidr_block=public_cidrs[i], availability_zone=az,
                map_public_ip_on_launch=False,  # EC2.15: nothing gets a public IP by accident
                tags={**named(f"public-{az}"), "kubernetes.io/role/elb": "1"}, opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-public-{az}", subnet_id=pub.id, route_table_id=public_rt.id, opts=child)
            public_subnets.append(pub)
            if args.nat_gateways == "perAz" or i == 0:
                eip = aws.ec2.Eip(f"{name}-nat-{az}", domain="vpc", tags=named(f"nat-{az}"), opts=child)
                nats.append(aws.ec2.NatGateway(f"{name}-nat-{az}", allocation_id=eip.id, subnet_id=pub.id,
                                               tags=named(f"nat-{az}"),
                                               opts=pulumi.ResourceOptions(parent=self, depends_on=[igw])))
        for i, az in enumerate(args.availability_zones):
            priv = aws.ec2.Subnet(
                f"{name}-private-{az}", vpc_id=vpc.id, cidr_block=private_cidrs[i], availability_zone=az,
                map_public_ip_on_launch=False,
                tags={**named(f"private-{az}"), "kubernetes.io/role/internal-elb": "1"}, opts=child)
            rt = aws.ec2.RouteTable(f"{name}-private-rt-{az}", vpc_id=vpc.id, tags=named(f"private-{az}"), opts=child)
            nat = nats[i] if args.nat_gateways == "perAz" else nats[0]
            aws.ec2.Route(f"{name}-private-default-{az}", route_table_id=rt.id,
                          destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id, opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-private-{az}", subnet_id=priv.id, route_table_id=rt.id, opts=child)
            private_subnets.append(priv)

        # EC2.6: VPC flow logs to CloudWatch with a retention.
        log_group_name = f"/aws/vpc-flow-logs/{name}"
        log_group = aws.cloudwatch.LogGroup(f"{name}-flow-logs", name=log_group_name,
                                            retention_in_days=args.flow_log_retention_days,
                                            tags=named("flow-logs"), opts=child)
        # The policy is plain JSON (reviewable offline): scoped to this log group in this region.
        log_group_arn = f"arn:aws:logs:{args.region}:*:log-group:{log_group_name}"
        role = aws.iam.Role(f"{name}-flow-logs", assume_role_policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                           "Action": "sts:AssumeRole"}],
        }), tags=tags, opts=child)
        aws.iam.RolePolicy(f"{name}-flow-logs", role=role.id, policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow",
                           "Action": ["logs:CreateLogStream", "logs:PutLogEvents",
                                      "logs:DescribeLogGroups", "logs:DescribeLogStreams"],
                           "Resource": [log_group_arn, f"{log_group_arn}:*"]}],
        }), opts=child)
        aws.ec2.FlowLog(f"{name}-flow-log", vpc_id=vpc.id, traffic_type="ALL", log_destination_type="cloud-watch-logs",
                        log_destination=log_group.arn, iam_role_arn=role.arn, max_aggregation_interval=60,
                        tags=named("flow-log"), opts=child)

        self.vpc_id = vpc.id
        self.public_subnet_ids = [s.id for s in public_subnets]
        self.private_subnet_ids = [s.id for s in private_subnets]
        self.register_outputs({"vpcId": self.vpc_id, "publicSubnetIds": self.public_subnet_ids,
                               "privateSubnetIds": self.private_subnet_ids})
