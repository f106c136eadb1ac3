"""Facts about resource types, shared by the engine and the (Pulumi-free) routing layer."""

from __future__ import annotations

#: Resource types whose replacement or deletion loses data: called out at the top of a report.
STATEFUL_TYPES = frozenset({
    "aws:rds/instance:Instance", "aws:rds/cluster:Cluster", "aws:ebs/volume:Volume", "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2", "aws:kms/key:Key", "aws:cloudwatch/logGroup:LogGroup", "eks:index:Cluster",
    "aws:eks/cluster:Cluster", "aws:ec2/vpc:Vpc", "random:index/randomPassword:RandomPassword",
    "kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:core/v1:Namespace", "kubernetes:core/v1:Secret",
    "kubernetes:storage.k8s.io/v1:StorageClass",
})
