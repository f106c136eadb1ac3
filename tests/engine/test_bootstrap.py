"""`bootstrap` against moto's server on 127.0.0.1 (boto3, real HTTP): creates, reads back every setting, changes
nothing the second time, repairs what was changed by hand, and refuses bad input before any call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.support.paths import ROOT

REGION = "eu-west-1"
BUCKET = "acme-ghost-gitops-state"
REPO = "acme/ghost-gitops"
SECRET = "moto-canary-Secret-Key-9f2"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    # AWS-managed policies (ReadOnlyAccess, AdministratorAccess) exist in moto only when asked for, as in AWS itself
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)


def _env(url: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}


def bootstrap(url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "automation", "bootstrap", *args], cwd=ROOT,
                          env=env or _env(url), capture_output=True, text=True, timeout=120, check=False)


def _client(url: str, name: str) -> Any:
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key=SECRET,
                                 region_name=REGION).client(name, endpoint_url=url)  # type: ignore[call-overload]


def test_bootstrap_creates_everything_and_every_setting_reads_back(moto_url: str) -> None:
    proc = bootstrap(moto_url, "--region", REGION, "--bucket", BUCKET, "--repo", REPO, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["changed"] is True
    assert result["backend_url"] == f"s3://{BUCKET}?region={REGION}&awssdk=v2"
    assert result["secrets_provider"] == f"awskms://alias/ghost-gitops?region={REGION}"
    assert set(result["role_arns"]) == {"preview", "integration", "production"}
    assert SECRET not in proc.stdout + proc.stderr

    kms = _client(moto_url, "kms")
    (alias,) = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/ghost-gitops"]
    key_arn = kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]["Arn"]
    assert kms.get_key_rotation_status(KeyId=alias["TargetKeyId"])["KeyRotationEnabled"] is True

    s3 = _client(moto_url, "s3")
    assert s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] == REGION
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
    assert rule["BucketKeyEnabled"] is True
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                     "RestrictPublicBuckets": True}
    (statement,) = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    iam = _client(moto_url, "iam")
    (provider,) = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    details = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])
    assert details["Url"].endswith("token.actions.githubusercontent.com") and details["ClientIDList"] == ["sts.amazonaws.com"]
    for environment, managed in (("preview", "ReadOnlyAccess"), ("integration", "AdministratorAccess"),
                                 ("production", "AdministratorAccess")):
        role = iam.get_role(RoleName=f"ghost-gitops-{environment}")["Role"]
        assert role["Arn"] == result["role_arns"][environment]
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"]["Federated"] == provider["Arn"]
        assert trust["Condition"]["StringEquals"] == {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": f"repo:{REPO}:environment:{environment}"}
        attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]]
        assert attached == [f"arn:aws:iam::aws:policy/{managed}"]
        inline = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="pulumi-state")["PolicyDocument"]
        writes = [s for s in inline["Statement"] if "s3:PutObject" in s["Action"]]
        if environment == "preview":  # read-only: it may write the backend's lock files, nothing else
            assert [s["Resource"] for s in writes] == [f"arn:aws:s3:::{BUCKET}/.pulumi/locks/*"]
        else:
            assert [s["Resource"] for s in writes] == [f"arn:aws:s3:::{BUCKET}/*"]


def test_a_second_run_changes_nothing_and_a_hand_change_is_repaired(moto_url: str) -> None:
    again = bootstrap(moto_url, "--region", REGION, "--bucket", BUCKET, "--repo", REPO, "--json")
    assert again.returncode == 0, again.stderr
    doc = json.loads(again.stdout)
    assert doc["changed"] is False and {s["action"] for s in doc["steps"]} == {"unchanged"}
    s3, iam = _client(moto_url, "s3"), _client(moto_url, "iam")
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    loose = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                                                     "Principal": {"Federated": "*"}}]}
    iam.update_assume_role_policy(RoleName="ghost-gitops-production", PolicyDocument=json.dumps(loose))
    repaired = bootstrap(moto_url, "--region", REGION, "--bucket", BUCKET, "--repo", REPO, "--json")
    changed = {s["what"] for s in json.loads(repaired.stdout)["steps"] if s["action"] != "unchanged"}
    assert changed == {f"S3 bucket {BUCKET} versioning", "IAM role ghost-gitops-production trust policy"}
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    text = bootstrap(moto_url, "--region", REGION, "--bucket", BUCKET, "--repo", REPO)
    assert text.stdout.startswith("nothing to change: 0 of ") and "PULUMI_BACKEND_URL    s3://" in text.stdout


@pytest.mark.parametrize(("args", "says"), [
    (["--bucket", BUCKET, "--repo", REPO], "--region"),
    (["--region", "narnia", "--bucket", BUCKET, "--repo", REPO], "is not an AWS region"),
    (["--region", REGION, "--bucket", "Bad_Bucket", "--repo", REPO], "not a valid S3 bucket name"),
    (["--region", REGION, "--bucket", BUCKET, "--repo", "no-slash"], "OWNER/NAME"),
])
def test_bad_input_is_refused_before_any_call(moto_url: str, args: list[str], says: str) -> None:
    proc = bootstrap(moto_url, *args)
    assert proc.returncode == 2 and says in proc.stderr, proc.stderr


def test_no_credentials_is_a_clear_error(moto_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in _env(moto_url).items() if not k.startswith("AWS_ACCESS") and not k.startswith("AWS_SECRET")}
    proc = bootstrap(moto_url, "--region", REGION, "--bucket", BUCKET, "--repo", REPO, env={**env, "HOME": str(tmp_path)})
    assert proc.returncode == 2 and "no AWS credentials" in proc.stderr, proc.stderr
