"""Dynamic providers whose cloud is a local folder, so tests can change it out of band."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult


def _path(props: dict[str, Any], kind: str, id_: str) -> Path:
    return Path(props["cloud_dir"]) / kind / f"{id_}.json"


class FolderProvider(ResourceProvider):
    """A record in ``<cloud_dir>/<kind>/<id>.json``; keys in ``replace_keys`` force a replacement."""

    kind = "record"
    replace_keys: tuple[str, ...] = ()

    def create(self, props: dict[str, Any]) -> CreateResult:
        id_ = uuid.uuid4().hex[:12]
        path = _path(props, self.kind, id_)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({k: v for k, v in props.items() if not k.startswith("__")}, sort_keys=True))
        return CreateResult(id_, outs=props)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = sorted(k for k in set(olds) | set(news) if not k.startswith("__") and olds.get(k) != news.get(k))
        return DiffResult(changes=bool(keys), replaces=[k for k in keys if k in self.replace_keys],
                          delete_before_replace=True)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        _path(news, self.kind, id_).write_text(json.dumps({k: v for k, v in news.items() if not k.startswith("__")},
                                                          sort_keys=True))
        return UpdateResult(outs=news)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        path = _path(props, self.kind, id_)
        if not path.exists():
            return ReadResult(None, {})  # deleted out of band
        return ReadResult(id_, {**props, **json.loads(path.read_text())})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        _path(props, self.kind, id_).unlink(missing_ok=True)


class RecordProvider(FolderProvider):
    kind = "record"


class DatabaseProvider(FolderProvider):
    kind = "database"
    replace_keys = ("db_name",)


class Record(Resource):
    def __init__(self, name: str, cloud_dir: str, content: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None):
        super().__init__(RecordProvider(), name, {"cloud_dir": cloud_dir, "content": content}, opts)


class Database(Resource):
    def __init__(self, name: str, cloud_dir: str, db_name: str, opts: pulumi.ResourceOptions | None = None,
                 size_gb: int | None = None):
        props: dict[str, Any] = {"cloud_dir": cloud_dir, "db_name": db_name}
        if size_gb is not None:  # only when configured: the other stories' records stay as they were
            props["size_gb"] = size_gb
        super().__init__(DatabaseProvider(), name, props, opts)
