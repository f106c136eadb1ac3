"""The lock files a self-managed ("DIY") Pulumi backend keeps for a stack, read where they are: a ``file://`` directory
or an ``s3://`` bucket. Each is a JSON document (``pid``, ``username``, ``hostname``, ``timestamp``) at
``.pulumi/locks/<org>/<project>/<stack>/<id>.json`` under the backend's root (pulumi/pkg/backend/diy/lock.go).

``None`` means this backend's locks cannot be listed here (gs://, azblob://, Pulumi Cloud): ``status`` then says so
rather than reporting "not locked". Reading an S3 bucket uses boto3 with the URL's own ``region``, ``endpoint`` and
``s3ForcePathStyle`` (the gocloud.dev options the CLI honours) and the usual AWS credentials.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from automation.errors import OperationFailed


def _s3_documents(url: str, project: str, stack: str, environ: Mapping[str, str]) -> list[dict[str, Any]]:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    prefix = parts.path.strip("/")
    root = f"{prefix}/.pulumi/locks/" if prefix else ".pulumi/locks/"
    session = boto3.session.Session(region_name=query.get("region") or environ.get("AWS_REGION")
                                    or environ.get("AWS_DEFAULT_REGION"))
    path_style = query.get("s3ForcePathStyle", "").lower() == "true"
    client = session.client("s3", endpoint_url=query.get("endpoint") or None,
                            config=Config(s3={"addressing_style": "path"}) if path_style else None)
    found = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=parts.netloc, Prefix=root):
            for obj in page.get("Contents", []):
                key = str(obj["Key"])
                segments = key[len(root):].split("/")
                if len(segments) == 4 and segments[1] == project and segments[2] == stack and key.endswith(".json"):
                    body = client.get_object(Bucket=parts.netloc, Key=key)["Body"].read()
                    found.append(_parse(body))
    except (ClientError, BotoCoreError) as exc:
        raise OperationFailed(f"cannot list the locks of {stack} in s3://{parts.netloc}: {exc}") from None
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
