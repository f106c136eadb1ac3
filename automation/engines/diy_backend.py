"""What a self-managed ("DIY") Pulumi backend keeps for a stack, read (and, for a damaged checkpoint, restored) where
it is: a ``file://`` directory or an ``s3://`` bucket (pulumi/pkg/backend/diy):

- locks: JSON documents (``pid``, ``username``, ``hostname``, ``timestamp``) at
  ``.pulumi/locks/<org>/<project>/<stack>/<id>.json``; ``None`` means this backend's locks cannot be listed here
  (gs://, azblob://, Pulumi Cloud): ``status`` then says so rather than reporting "not locked";
- the checkpoint: ``.pulumi/stacks/<project>/<stack>.json`` (``{"version": 3, "checkpoint": {...}}``). A versioned
  bucket (``bootstrap`` turns versioning on) keeps every earlier one: :func:`restore_checkpoint` puts back the newest
  readable version and records who did it, when and why in ``.pulumi/ghost-gitops/audit/``.

S3 is read with boto3 using the URL's own ``region``, ``endpoint`` and ``s3ForcePathStyle`` (the gocloud.dev options
the CLI honours) and the usual AWS credentials.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from automation.model.errors import OperationFailed


def _s3(url: str, environ: Mapping[str, str]) -> tuple[Any, str, str]:
    """(boto3 S3 client, bucket, the backend's key prefix ending in '/' or '') of an ``s3://`` backend URL."""
    import boto3
    from botocore.config import Config

    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    prefix = parts.path.strip("/")
    session = boto3.session.Session(region_name=query.get("region") or environ.get("AWS_REGION")
                                    or environ.get("AWS_DEFAULT_REGION"))
    path_style = query.get("s3ForcePathStyle", "").lower() == "true"
    client = session.client("s3", endpoint_url=query.get("endpoint") or None,
                            config=Config(s3={"addressing_style": "path"}) if path_style else None)
    return client, parts.netloc, f"{prefix}/" if prefix else ""


def _s3_documents(url: str, project: str, stack: str, environ: Mapping[str, str]) -> list[dict[str, Any]]:
    from botocore.exceptions import BotoCoreError, ClientError

    client, bucket, prefix = _s3(url, environ)
    root = f"{prefix}.pulumi/locks/"
    found = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root):
            for obj in page.get("Contents", []):
                key = str(obj["Key"])
                segments = key[len(root):].split("/")
                if len(segments) == 4 and segments[1] == project and segments[2] == stack and key.endswith(".json"):
                    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
                    found.append(_parse(body))
    except (ClientError, BotoCoreError) as exc:
        raise OperationFailed(f"cannot list the locks of {stack} in s3://{bucket}: {exc}") from None
    return found


def _parse(body: bytes | str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError:
        return {}
    return dict(doc) if isinstance(doc, dict) else {}


def lock_documents(backend_url: str, project: str, stack: str, environ: Mapping[str, str]) -> list[dict[str, Any]] | None:
    """The lock documents of ``stack``; None where this backend's locks cannot be listed."""
    if backend_url.startswith("file://"):
        base = Path(backend_url.removeprefix("file://").split("?", 1)[0]) / ".pulumi" / "locks"
        out = []
        for path in sorted(base.glob(f"*/{project}/{stack}/*.json")):
            try:
                out.append(_parse(path.read_text(encoding="utf-8")))
            except OSError:
                out.append({})
        return out
    if backend_url.startswith("s3://"):
        return _s3_documents(backend_url, project, stack, environ)
    return None


#: What the CLI says when a stack's checkpoint cannot be parsed: "failed to load checkpoint: ..." from an operation,
#: the bare JSON error ("place 1: unexpected end of JSON input", "invalid character ...") from `stack ls`
DAMAGED_CHECKPOINT = "failed to load checkpoint"
_JSON_ERROR = re.compile(r"failed to load checkpoint|unexpected end of JSON input|invalid character '.{1,4}' (?:looking for|after)")


def is_damaged(text: str) -> bool:
    """Whether the CLI's output says a checkpoint cannot be parsed."""
    return _JSON_ERROR.search(text) is not None


def _readable(body: bytes) -> bool:
    doc = _parse(body)
    return isinstance(doc.get("checkpoint"), dict)


def restore_checkpoint(backend_url: str, project: str, stack: str, environ: Mapping[str, str], *, by: str,
                       reason: str, now: str) -> dict[str, Any]:
    """Put back the newest readable version of ``stack``'s checkpoint from the bucket's object versions, if the
    current one is damaged; record it in ``.pulumi/ghost-gitops/audit/<project>/<stack>/<now>.json``.

    :raises ConfigError: not an s3:// backend, the checkpoint is readable (nothing to restore), or no earlier
        version is readable.
    :raises OperationFailed: the bucket cannot be read or written.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from automation.model.errors import ConfigError

    if not backend_url.startswith("s3://"):
        raise ConfigError(f"--restore-checkpoint restores from an S3 bucket's object versions; {backend_url.split('?', 1)[0]} "
                          "is not one (a file:// backend keeps Pulumi's own <stack>.json.bak beside the checkpoint)")
    client, bucket, prefix = _s3(backend_url, environ)
    key = f"{prefix}.pulumi/stacks/{project}/{stack}.json"
    try:
        listed = client.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
        versions = sorted((v for v in listed if v["Key"] == key), key=lambda v: v["LastModified"], reverse=True)
        if not versions:
            raise ConfigError(f"s3://{bucket}/{key} has no versions: nothing to restore")
        current = versions[0]
        if _readable(client.get_object(Bucket=bucket, Key=key, VersionId=current["VersionId"])["Body"].read()):
            raise ConfigError(f"the checkpoint of {stack} (s3://{bucket}/{key}) is readable: nothing to restore")
        good = next((v for v in versions[1:] if _readable(
            client.get_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])["Body"].read())), None)
        if good is None:
            raise ConfigError(f"no earlier version of s3://{bucket}/{key} is a readable checkpoint ({len(versions)} "
                              "version(s)): restore the state from a `pulumi stack export` backup")
        client.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key, "VersionId": good["VersionId"]})
        record = {"action": "restore-checkpoint", "stack": stack, "project": project, "by": by, "at": now,
                  "reason": reason, "restored_version": good["VersionId"],
                  "restored_version_saved": good["LastModified"].isoformat(), "damaged_version": current["VersionId"]}
        audit_key = f"{prefix}.pulumi/ghost-gitops/audit/{project}/{stack}/{now}.json"
        client.put_object(Bucket=bucket, Key=audit_key, Body=json.dumps(record, indent=1).encode())
    except (ClientError, BotoCoreError) as exc:
        raise OperationFailed(f"cannot restore the checkpoint of {stack} in s3://{bucket}: {exc}") from None
    return {**record, "audit": f"s3://{bucket}/{audit_key}"}


def damaged_message(stack: str, backend_url: str, detail: str) -> str:
    """One line: the stack's checkpoint cannot be read, and the documented way back."""
    how = (f"`python -m automation recover --stack {stack} --restore-checkpoint --reason WHY --yes` puts back its last "
           "readable version from the bucket's object versions" if backend_url.startswith("s3://")
           else "restore it from the backend's backup (Pulumi keeps <stack>.json.bak beside it) or a `pulumi stack export`")
    return (f"the checkpoint of {stack} in {backend_url.split('?', 1)[0]} is damaged and cannot be read ({detail}): "
            f"nothing was changed; {how}")
