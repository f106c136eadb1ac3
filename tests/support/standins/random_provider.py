"""STAND-IN for the pulumi-random provider plugin (`pulumi-resource-random`), which cannot be had here: the Go
module proxy refuses every version of github.com/pulumi/pulumi-random and the PyPI wheel carries no binary.

Only the two resource types the program declares, with the real provider's behaviour for the inputs the program
uses: ``random:index/randomPassword:RandomPassword`` (length, special, overrideSpecial, upper, lower, numeric and
the min_* counts; outputs ``result`` and ``bcryptHash``, which the SDK marks secret) and
``random:index/randomId:RandomId`` (byteLength, prefix; outputs ``hex``, ``b64Std``, ``b64Url``, ``dec``).
As in the real provider, every input change replaces the resource (its inputs are all ForceNew), values come
from the operating system's CSPRNG, a read returns the state unchanged and a delete forgets it. Anything else is
refused with a message saying this is the stand-in. Started by the CLI through the launcher the test fixtures
write (`pulumi-resource-random` on PATH: ``python -m tests.support.standins.random_provider``), printing its gRPC port.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import string
import sys
import uuid
from concurrent import futures
from threading import Event
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime import proto, rpc
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import ResourceProviderServicer, provider_pb2_grpc

PASSWORD = "random:index/randomPassword:RandomPassword"
RANDOM_ID = "random:index/randomId:RandomId"
#: the real provider's default special characters
DEFAULT_SPECIAL = "!@#$%&*()-_=+[]{}<>:?"
VERSION = "4.18.0-standin"


def _password(props: dict[str, Any]) -> str:
    length = int(props.get("length") or 0)
    if length < 1:
        raise ValueError("length must be at least 1")
    sets: list[tuple[str, int]] = []
    if props.get("upper", True):
        sets.append((string.ascii_uppercase, int(props.get("minUpper") or 0)))
    if props.get("lower", True):
        sets.append((string.ascii_lowercase, int(props.get("minLower") or 0)))
    if props.get("numeric", props.get("number", True)):
        sets.append((string.digits, int(props.get("minNumeric") or 0)))
    if props.get("special", True):
        sets.append((props.get("overrideSpecial") or DEFAULT_SPECIAL, int(props.get("minSpecial") or 0)))
    if not sets:
        raise ValueError("at least one of upper, lower, numeric and special must be true")
    if sum(n for _, n in sets) > length:
        raise ValueError("length must be >= the sum of the min_* counts")
    rng = secrets.SystemRandom()
    chars = [rng.choice(chars) for chars, n in sets for _ in range(n)]
    alphabet = "".join(chars_ for chars_, _ in sets)
    chars += [rng.choice(alphabet) for _ in range(length - len(chars))]
    rng.shuffle(chars)
    return "".join(chars)


def _bcrypt_placeholder(result: str) -> str:
    # the real provider outputs a bcrypt hash; the program never reads it, and no bcrypt library is pinned here:
    # the stand-in outputs a fixed marker rather than a fake hash
    return "stand-in: no bcrypt hash"


def create_outputs(type_: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(id, outputs) of a new resource: the inputs plus what the real provider computes."""
    if type_ == PASSWORD:
        result = _password(props)
        return "none", {**props, "result": result, "bcryptHash": _bcrypt_placeholder(result)}
    if type_ == RANDOM_ID:
        raw = secrets.token_bytes(int(props["byteLength"]))
        prefix = props.get("prefix") or ""
        outs = {"hex": prefix + raw.hex(), "b64Std": prefix + base64.standard_b64encode(raw).decode(),
                "b64Url": prefix + base64.urlsafe_b64encode(raw).decode().rstrip("="),
                "dec": prefix + str(int.from_bytes(raw, "big"))}
        return outs["b64Url"], {**props, **outs}
    raise ValueError(f"the pulumi-random stand-in (tests/support/standins/random_provider.py) does not implement {type_}")


def _urn_type(urn: str) -> str:
    return urn.split("::")[2].split("$")[-1]


def _props(struct: Any) -> dict[str, Any]:
    return rpc.deserialize_properties(struct, True) or {}


def _serialize(props: dict[str, Any]) -> Any:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(props, {}))
    finally:
        loop.close()


INPUTS = {PASSWORD: ("keepers", "length", "lower", "minLower", "minNumeric", "minSpecial", "minUpper", "number",
                     "numeric", "overrideSpecial", "special", "upper"),
          RANDOM_ID: ("keepers", "byteLength", "prefix")}


class RandomStandIn(ResourceProviderServicer):
    def GetPluginInfo(self, request: Any, context: Any) -> Any:
        return proto.PluginInfo(version=VERSION)

    def CheckConfig(self, request: Any, context: Any) -> Any:
        return proto.CheckResponse(inputs=request.news)

    def DiffConfig(self, request: Any, context: Any) -> Any:
        return proto.DiffResponse(changes=proto.DiffResponse.DIFF_NONE)

    def Configure(self, request: Any, context: Any) -> Any:
        return proto.ConfigureResponse(acceptSecrets=True, supportsPreview=True)

    def Check(self, request: Any, context: Any) -> Any:
        type_ = _urn_type(request.urn)
        if type_ not in INPUTS:
            context.abort(grpc.StatusCode.UNIMPLEMENTED,
                          f"the pulumi-random stand-in (tests/support/standins/random_provider.py) does not implement {type_}")
        news = _props(request.news)
        return proto.CheckResponse(inputs=_serialize({k: v for k, v in news.items() if k in INPUTS[type_]}))

    def Diff(self, request: Any, context: Any) -> Any:
        type_ = _urn_type(request.urn)
        olds, news = _props(request.olds), _props(request.news)
        changed = [k for k in INPUTS.get(type_, ()) if olds.get(k) != news.get(k)]
        if not changed:
            return proto.DiffResponse(changes=proto.DiffResponse.DIFF_NONE)
        return proto.DiffResponse(changes=proto.DiffResponse.DIFF_SOME, replaces=changed, diffs=changed)

    def Create(self, request: Any, context: Any) -> Any:
        type_ = _urn_type(request.urn)
        props = _props(request.properties)
        if request.preview:
            return proto.CreateResponse(id="", properties=request.properties)
        try:
            id_, outs = create_outputs(type_, props)
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if type_ == PASSWORD:
            id_ = str(uuid.uuid4())
        return proto.CreateResponse(id=id_, properties=_serialize(outs))

    def Read(self, request: Any, context: Any) -> Any:
        return proto.ReadResponse(id=request.id, properties=request.properties, inputs=request.inputs)

    def Update(self, request: Any, context: Any) -> Any:  # every input is ForceNew: only keepers-free no-ops arrive
        return proto.UpdateResponse(properties=request.olds)

    def Delete(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()

    def Cancel(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()


def main() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=_GRPC_CHANNEL_OPTIONS)
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(RandomStandIn(), server)
    port = server.add_insecure_port(address="127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    try:
        Event().wait()
    except KeyboardInterrupt:
        server.stop(0)


if __name__ == "__main__":
    main()
