"""Offline synth: run the real ``__main__.py`` under Pulumi's mock runtime and record what it declares.

This is the project's one mock implementation: the ``synth`` command and the tests both use it.
It behaves like a ``pulumi preview`` with no cloud: inputs the program knows are kept, everything the
provider would compute (IDs, ARNs, endpoints, a referenced stack's outputs) is *unknown* and shown as
such, never invented. Secret values are replaced by a marker before anything is recorded.
"""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automation.config.stackconfig import StackConfig
from automation.model.errors import AutomationError, ConfigError

SECRET_MARKER = "[secret]"  # noqa: S105 - a marker, not a secret
UNKNOWN_MARKER = "[unknown]"
K8S_PREFIX = "kubernetes:"
STACK_REFERENCE = "pulumi:pulumi:StackReference"


class SynthError(AutomationError):
    """The program itself failed while being evaluated offline."""


@dataclass(frozen=True)
class RecordedResource:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    provider: str | None
    inputs: Mapping[str, Any]
    #: property name -> URNs of the resources that property's value came from
    dependencies: Mapping[str, tuple[str, ...]]
    #: the resource option `protect` (Pulumi refuses to delete or replace it)
    protect: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"urn": self.urn, "type": self.type, "name": self.name, "parent": self.parent, "inputs": self.inputs,
                "protect": self.protect}


@dataclass(frozen=True)
class SynthResult:
    stack: str
    project: str
    source: str
    resources: tuple[RecordedResource, ...]
    outputs: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "resources": [r.to_json() for r in self.resources], "outputs": dict(self.outputs)}

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def by_urn(self, urn: str) -> RecordedResource:
        return next(r for r in self.resources if r.urn == urn)

    def manifests(self) -> Iterator[tuple[RecordedResource, dict[str, Any]]]:
        """Every Kubernetes object as it would be applied (resource, manifest). Providers excluded."""
        for res in self.resources:
            if not res.type.startswith(K8S_PREFIX) or res.type.startswith("pulumi:providers:"):
                continue
            manifest = dict(res.inputs)
            if "apiVersion" not in manifest or "kind" not in manifest:
                continue
            hidden = sorted(k for k in ("data", "stringData") if manifest.get(k) == SECRET_MARKER)
            if hidden:  # secret payloads are never rendered; say so on the object instead
                for key in hidden:
                    del manifest[key]
                meta = dict(manifest.get("metadata") or {})
                meta["annotations"] = {**(meta.get("annotations") or {}),
                                       "ghost-gitops.dev/offline-synth": f"{', '.join(hidden)} withheld: secret"}
                manifest["metadata"] = meta
            yield res, manifest


def sanitize(value: Any) -> Any:
    """Replace secrets and unknowns by markers, recursively. Nothing secret survives this.

    Works on deserialized Python values and on the raw protobuf the monitor receives; on the latter
    it keeps the structure around a secret (a Secret's keys stay visible, only values are masked).
    """
    from google.protobuf import struct_pb2
    from pulumi.output import Unknown
    from pulumi.runtime import rpc

    from automation.engines import offline_runtime

    if isinstance(value, struct_pb2.Struct):
        sig = offline_runtime.wire_signature(value)
        if offline_runtime.is_secret_signature(sig):
            return SECRET_MARKER
        if offline_runtime.is_resource_signature(sig):
            return {"resource": value.fields["urn"].string_value}
        return {k: sanitize(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, struct_pb2.ListValue):
        return [sanitize(v) for v in value]
    if rpc.is_rpc_secret(value):
        return SECRET_MARKER
    if isinstance(value, Unknown) or value == rpc.UNKNOWN:
        return UNKNOWN_MARKER
    if isinstance(value, dict):
        return {k: sanitize(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, (list, tuple)):
        return [sanitize(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire has only doubles; Kubernetes and AWS integers come back as ints
    return value


def _make_recorder() -> tuple[Any, Any, list[RecordedResource]]:
    from pulumi.runtime import mocks

    records: list[RecordedResource] = []

    class Recorder(mocks.Mocks):
        """Answers like a preview: known inputs come back, everything computed stays unknown."""

        def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
            if args.typ == STACK_REFERENCE:
                # The referenced stack's outputs are only known to its state backend: unknown offline.
                return args.name, {"name": args.inputs.get("name", args.name)}
            return "", dict(args.inputs)

        def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
            raise SynthError(f"the program called the provider function {args.token}; "
                             "offline synth cannot answer it without the cloud")

    class RecordingMonitor(mocks.MockMonitor):
        def _record(self, urn: str, request: Any, custom: bool, props: Any) -> None:
            deps = {k: tuple(v.urns) for k, v in getattr(request, "propertyDependencies", {}).items()}
            records.append(RecordedResource(
                urn=urn, type=request.type, name=request.name, parent=request.parent or None, custom=custom,
                provider=request.provider or None, inputs=sanitize(props), dependencies=deps,
                protect=bool(getattr(request, "protect", False))))

        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
            if request.type != "pulumi:pulumi:Stack":
                self._record(response.urn, request, bool(request.custom), request.object)
            return response

        def ReadResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
            response = super().ReadResource(request)  # type: ignore[no-untyped-call]
            self._record(response.urn, request, True, request.properties)
            return response

    recorder = Recorder()
    return recorder, RecordingMonitor(recorder), records


async def _resolve_output(value: Any) -> Any:
    from pulumi import Output

    if isinstance(value, Output):
        # secret first: an unknown secret (a password the provider generates) is still a secret, and showing it as
        # merely unknown would let a missing Output.secret pass unnoticed
        if await value.is_secret():
            return SECRET_MARKER
        if not await value.is_known():
            return UNKNOWN_MARKER
        return await _resolve_output(await value.future())
    if isinstance(value, dict):
        return {k: await _resolve_output(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [await _resolve_output(v) for v in value]
    return sanitize(value)


@contextmanager
def _isolated(root: Path) -> Iterator[None]:
    """Run with ``root``'s program modules only, and leave nothing behind: ``sys.path``, the program's modules
    and ``PULUMI_CONFIG`` (only the stack file's config counts) are as they were afterwards."""
    from automation.engines.program import purge, top_level_modules

    names = top_level_modules(root)
    saved_path = list(sys.path)
    saved_config = os.environ.pop("PULUMI_CONFIG", None)
    purge(names)
    sys.path.insert(0, str(root.resolve()))
    try:
        yield
    finally:
        purge(names)  # the next root (another commit) must not find this one's modules
        sys.path[:] = saved_path
        if saved_config is not None:
            os.environ["PULUMI_CONFIG"] = saved_config


def synthesize(root: Path, config: StackConfig) -> SynthResult:
    """Evaluate ``root/__main__.py`` for ``config.stack`` offline and return what it declares.

    :raises ConfigError: the program refused the stack's settings (a ``pulumi.RunError``: the program's own way
        of saying "bad input", as ``__main__.py`` does for its settings).
    :raises SynthError: the program failed for any other reason.
    """
    import pulumi
    from pulumi.runtime import config as runtime_config
    from pulumi.runtime import mocks
    from pulumi.runtime.stack import run_pulumi_func

    from automation.engines import offline_runtime

    recorder, monitor, records = _make_recorder()
    with _isolated(root):
        offline_runtime.reset_root_stack()
        runtime_config.set_all_config(dict(config.values), sorted(config.secret_keys))
        mocks.set_mocks(recorder, project=config.project, stack=config.stack, preview=True, monitor=monitor)
        try:
            def program() -> None:
                runpy.run_path(str(root / "__main__.py"), run_name="__main__")

            offline_runtime.run_sync(run_pulumi_func(program))
            stack = offline_runtime.root_stack()
            outputs = offline_runtime.run_sync(_resolve_output(dict(getattr(stack, "outputs", {}))))
        except pulumi.RunError as exc:
            raise ConfigError(str(exc)) from None
        except AutomationError:
            raise
        except Exception as exc:
            raise SynthError(f"stack {config.stack!r}: the program failed offline: {type(exc).__name__}: {exc}") from exc
    return SynthResult(stack=config.stack, project=config.project, source=config.source,
                       resources=tuple(sorted(records, key=lambda r: r.urn)), outputs=outputs)
