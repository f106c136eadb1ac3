"""The team backend: what a team creates once to leave the local state backend. The only module that uses boto3.

``bootstrap`` creates, idempotently (each setting read first and written only when it differs):

- a KMS key with yearly rotation, alias ``alias/<prefix>``: Pulumi's secrets provider and the state bucket's key;
- an S3 state bucket: versioning, SSE-KMS with that key (bucket key on), every public access block, owner-enforced
  object ownership, and a policy refusing any request not made over TLS;
- the GitHub Actions OIDC provider (``token.actions.githubusercontent.com``, audience ``sts.amazonaws.com``);
- one role per GitHub environment the workflows use -- ``preview`` (read-only: AWS ``ReadOnlyAccess``, reading the
  state, writing only its lock files, decrypting secrets), ``integration`` and ``production`` (deploy: AWS
  ``AdministratorAccess``, since the program creates IAM roles, a VPC, EKS and RDS) -- each trusting only tokens
  whose ``sub`` is ``repo:<owner>/<name>:environment:<environment>``.

The spec is pure (:func:`plan_spec`); :func:`apply` is the adapter. A second run changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from automation.model.errors import ConfigError, OperationFailed

OIDC_URL = "https://token.actions.githubusercontent.com"
OIDC_HOST = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
#: GitHub's published intermediate certificate thumbprints (IAM no longer checks them for this provider, but older
#: API versions require a list)
THUMBPRINTS = ("6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd")
BUCKET_NAME = re.compile(r"^(?!xn--)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
REPO = re.compile(r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"

Action = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class RoleSpec:
    environment: str  # the GitHub environment whose jobs assume it
    name: str
    managed_policy: str
    deploys: bool  # writes state and encrypts secrets


@dataclass(frozen=True)
class BootstrapSpec:
    region: str
    bucket: str
    repo: str
    prefix: str
    roles: tuple[RoleSpec, ...]

    @property
    def key_alias(self) -> str:
        return f"alias/{self.prefix}"


@dataclass(frozen=True)
class Step:
    what: str
    action: Action
    detail: str = ""


@dataclass(frozen=True)
class BootstrapResult:
    backend_url: str
    secrets_provider: str
    role_arns: dict[str, str]
    steps: tuple[Step, ...]

    @property
    def changed(self) -> bool:
        return any(s.action != "unchanged" for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {"backend_url": self.backend_url, "secrets_provider": self.secrets_provider, "role_arns": self.role_arns,
                "changed": self.changed, "steps": [{"what": s.what, "action": s.action, "detail": s.detail}
                                                   for s in self.steps]}


def plan_spec(region: str, bucket: str, repo: str, prefix: str = "ghost-gitops") -> BootstrapSpec:
    """Validate the inputs and name everything. Pure. :raises ConfigError: naming the bad input and the fix."""
    if not REGION.match(region or ""):
        raise ConfigError(f"--region {region!r} is not an AWS region (e.g. eu-west-1)")
    if not BUCKET_NAME.match(bucket or ""):
        raise ConfigError(f"--bucket {bucket!r} is not a valid S3 bucket name (3-63 lower-case letters, digits, '.' "
                          "and '-', starting and ending with a letter or digit)")
    if not REPO.match(repo or ""):
        raise ConfigError(f"--repo {repo!r} must be OWNER/NAME of the GitHub repository whose workflows deploy")
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,30}", prefix):
        raise ConfigError(f"--prefix {prefix!r}: 2-31 lower-case letters, digits or '-', starting with a letter")
    roles = (RoleSpec("preview", f"{prefix}-preview", READ_ONLY, deploys=False),
             RoleSpec("integration", f"{prefix}-integration", ADMIN, deploys=True),
             RoleSpec("production", f"{prefix}-production", ADMIN, deploys=True))
    return BootstrapSpec(region=region, bucket=bucket, repo=repo, prefix=prefix, roles=roles)


def trust_policy(spec: BootstrapSpec, account: str, role: RoleSpec) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/{OIDC_HOST}"},
        "Condition": {"StringEquals": {f"{OIDC_HOST}:aud": AUDIENCE,
                                       f"{OIDC_HOST}:sub": f"repo:{spec.repo}:environment:{role.environment}"}}}]}


def state_policy(spec: BootstrapSpec, key_arn: str, role: RoleSpec) -> dict[str, Any]:
    bucket = f"arn:aws:s3:::{spec.bucket}"
    statements: list[dict[str, Any]] = [
        {"Sid": "ListState", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": bucket},
        {"Sid": "ReadState", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{bucket}/*"},
        {"Sid": "Secrets", "Effect": "Allow", "Resource": key_arn,
         "Action": ["kms:Decrypt", "kms:DescribeKey"] + (["kms:Encrypt", "kms:GenerateDataKey"] if role.deploys else [])},
    ]
    if role.deploys:
        statements.append({"Sid": "WriteState", "Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"],
                           "Resource": f"{bucket}/*"})
    else:  # a preview or drift check takes the backend's lock, nothing else
        statements.append({"Sid": "Locks", "Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"],
                           "Resource": f"{bucket}/.pulumi/locks/*"})
        statements.append({"Sid": "LockKey", "Effect": "Allow", "Action": ["kms:GenerateDataKey"], "Resource": key_arn})
    return {"Version": "2012-10-17", "Statement": statements}


def tls_only_policy(bucket: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}


def apply(spec: BootstrapSpec, session: Any, *, endpoint_url: str | None = None,
          notify: Callable[[str], None] = lambda _: None) -> BootstrapResult:
    """Create or correct everything in ``spec`` with a boto3 session (``endpoint_url``: an AWS-compatible endpoint).

    :raises OperationFailed: an AWS call failed (what was done so far is named; re-running is safe).
    :raises ConfigError: no credentials.
    """
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    steps: list[Step] = []

    def step(what: str, action: Action, detail: str = "") -> None:
        steps.append(Step(what, action, detail))
        notify(f"{what}: {action}{f' ({detail})' if detail else ''}")

    try:
        def client(name: str) -> Any:
            return session.client(name, endpoint_url=endpoint_url) if endpoint_url else session.client(name)

        account = client("sts").get_caller_identity()["Account"]
        key_arn = _key(client("kms"), spec, step)
        _bucket(client("s3"), spec, key_arn, step)
        iam = client("iam")
        _oidc(iam, account, step)
        arns = {role.environment: _role(iam, spec, account, key_arn, role, step) for role in spec.roles}
    except NoCredentialsError:
        raise ConfigError("no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for an "
                          "account administrator (bootstrap runs once, by a person)") from None
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise OperationFailed(f"bootstrap failed at {exc.operation_name}: {err.get('Code')}: {err.get('Message')} "
                              f"(done so far: {', '.join(f'{s.what} {s.action}' for s in steps) or 'nothing'}; "
                              "re-running is safe)") from None
    except BotoCoreError as exc:
        raise OperationFailed(f"bootstrap failed: {exc} (re-running is safe)") from None
    return BootstrapResult(backend_url=backend_url(spec.bucket, spec.region, endpoint_url),
                           secrets_provider=secrets_provider(spec.key_alias, spec.region, endpoint_url),
                           role_arns=arns, steps=tuple(steps))


def backend_url(bucket: str, region: str, endpoint_url: str | None = None) -> str:
    """The Pulumi backend URL of the state bucket. With an AWS-compatible endpoint (moto, a local S3), the URL names
    it (and path-style addressing), so the CLI talks to it without AWS_ENDPOINT_URL (gocloud.dev s3blob URL options)."""
    base = f"s3://{bucket}?region={region}&awssdk=v2"
    return f"{base}&endpoint={endpoint_url}&s3ForcePathStyle=true" if endpoint_url else base


def secrets_provider(alias: str, region: str, endpoint_url: str | None = None) -> str:
    """The Pulumi secrets provider of the key (gocloud.dev awskms URL; with an endpoint, as for the backend)."""
    base = f"awskms://{alias}?region={region}"
    return f"{base}&awssdk=v2&endpoint={endpoint_url}" if endpoint_url else base


def _key(kms: Any, spec: BootstrapSpec, step: Callable[..., None]) -> str:
    aliases = [a for page in kms.get_paginator("list_aliases").paginate() for a in page["Aliases"]]
    found = next((a for a in aliases if a["AliasName"] == spec.key_alias and a.get("TargetKeyId")), None)
    if found is None:
        key = kms.create_key(Description=f"{spec.prefix}: Pulumi secrets and state bucket of {spec.repo}",
                             KeyUsage="ENCRYPT_DECRYPT", Tags=[{"TagKey": "ghost-gitops", "TagValue": spec.prefix}])
        key_id = key["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=spec.key_alias, TargetKeyId=key_id)
        step(f"KMS key {spec.key_alias}", "created", key_id)
    else:
        key_id = found["TargetKeyId"]
        step(f"KMS key {spec.key_alias}", "unchanged", key_id)
    if not kms.get_key_rotation_status(KeyId=key_id).get("KeyRotationEnabled"):
        kms.enable_key_rotation(KeyId=key_id)
        step(f"KMS key {spec.key_alias} rotation", "updated", "enabled")
    else:
        step(f"KMS key {spec.key_alias} rotation", "unchanged", "enabled")
    arn: str = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    return arn


def _bucket(s3: Any, spec: BootstrapSpec, key_arn: str, step: Callable[..., None]) -> None:
    from botocore.exceptions import ClientError

    name = f"S3 bucket {spec.bucket}"
    try:
        s3.head_bucket(Bucket=spec.bucket)
        step(name, "unchanged")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
        kwargs: dict[str, Any] = {"Bucket": spec.bucket, "ObjectOwnership": "BucketOwnerEnforced"}
        if spec.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": spec.region}
        s3.create_bucket(**kwargs)
        step(name, "created", spec.region)
    if s3.get_bucket_versioning(Bucket=spec.bucket).get("Status") != "Enabled":
        s3.put_bucket_versioning(Bucket=spec.bucket, VersioningConfiguration={"Status": "Enabled"})
        step(f"{name} versioning", "updated", "enabled")
    else:
        step(f"{name} versioning", "unchanged", "enabled")
    wanted_rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                   "BucketKeyEnabled": True}
    try:
        rules = s3.get_bucket_encryption(Bucket=spec.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError:
        rules = []
    if [{k: r.get(k) for k in wanted_rule} for r in rules] != [wanted_rule]:
        s3.put_bucket_encryption(Bucket=spec.bucket, ServerSideEncryptionConfiguration={"Rules": [wanted_rule]})
        step(f"{name} encryption", "updated", "SSE-KMS with the key")
    else:
        step(f"{name} encryption", "unchanged", "SSE-KMS with the key")
    block = {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}
    try:
        current = s3.get_public_access_block(Bucket=spec.bucket)["PublicAccessBlockConfiguration"]
    except ClientError:
        current = {}
    if {k: current.get(k) for k in block} != block:
        s3.put_public_access_block(Bucket=spec.bucket, PublicAccessBlockConfiguration=block)
        step(f"{name} public access block", "updated", "all four on")
    else:
        step(f"{name} public access block", "unchanged", "all four on")
    wanted_policy = tls_only_policy(spec.bucket)
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=spec.bucket)["Policy"])
    except ClientError:
        policy = None
    if policy != wanted_policy:
        s3.put_bucket_policy(Bucket=spec.bucket, Policy=json.dumps(wanted_policy))
        step(f"{name} policy", "updated", "TLS only")
    else:
        step(f"{name} policy", "unchanged", "TLS only")


def _oidc(iam: Any, account: str, step: Callable[..., None]) -> None:
    arn = f"arn:aws:iam::{account}:oidc-provider/{OIDC_HOST}"
    existing = {p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]}
    if arn not in existing:
        iam.create_open_id_connect_provider(Url=OIDC_URL, ClientIDList=[AUDIENCE], ThumbprintList=list(THUMBPRINTS))
        step("GitHub OIDC provider", "created", OIDC_HOST)
        return
    clients = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn).get("ClientIDList", [])
    if AUDIENCE not in clients:
        iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=AUDIENCE)
        step("GitHub OIDC provider", "updated", f"audience {AUDIENCE} added")
    else:
        step("GitHub OIDC provider", "unchanged", OIDC_HOST)


def _role(iam: Any, spec: BootstrapSpec, account: str, key_arn: str, role: RoleSpec, step: Callable[..., None]) -> str:
    name = f"IAM role {role.name}"
    trust = trust_policy(spec, account, role)
    try:
        current = iam.get_role(RoleName=role.name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        current = iam.create_role(RoleName=role.name, AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=3600,
                                  Description=f"{spec.prefix}: GitHub environment {role.environment} of {spec.repo}")["Role"]
        step(name, "created", f"trusts repo:{spec.repo}:environment:{role.environment}")
    else:
        document = current["AssumeRolePolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        if document != trust:
            iam.update_assume_role_policy(RoleName=role.name, PolicyDocument=json.dumps(trust))
            step(f"{name} trust policy", "updated", f"repo:{spec.repo}:environment:{role.environment} only")
        else:
            step(f"{name} trust policy", "unchanged", f"repo:{spec.repo}:environment:{role.environment} only")
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role.name)["AttachedPolicies"]}
    if role.managed_policy not in attached:
        iam.attach_role_policy(RoleName=role.name, PolicyArn=role.managed_policy)
        step(f"{name} permissions", "updated", role.managed_policy.rsplit("/", 1)[-1])
    else:
        step(f"{name} permissions", "unchanged", role.managed_policy.rsplit("/", 1)[-1])
    wanted = state_policy(spec, key_arn, role)
    try:
        inline = iam.get_role_policy(RoleName=role.name, PolicyName="pulumi-state")["PolicyDocument"]
        inline = json.loads(inline) if isinstance(inline, str) else inline
    except iam.exceptions.NoSuchEntityException:
        inline = None
    if inline != wanted:
        iam.put_role_policy(RoleName=role.name, PolicyName="pulumi-state", PolicyDocument=json.dumps(wanted))
        step(f"{name} state access", "updated", "read/write" if role.deploys else "read, locks only")
    else:
        step(f"{name} state access", "unchanged", "read/write" if role.deploys else "read, locks only")
    arn: str = current["Arn"]
    return arn
