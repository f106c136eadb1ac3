"""The Pulumi SDK internals offline synth needs, named in one place.

The mock runtime (``pulumi.runtime.mocks``) is public, but recording what a program declares also
needs a few private names of the SDK: the wire markers of secrets and resource references, the
SDK's own event-loop bridge, and the root stack resource. They are imported here and nowhere else;
:func:`check` verifies them, and ``tests/program/test_synth_cli.py`` calls it, so an SDK upgrade that moves
one fails that test by name instead of corrupting what synth shows.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")

#: (module, attribute) of every private name used below
PRIVATE_NAMES = (("pulumi.runtime.rpc", "_special_sig_key"), ("pulumi.runtime.rpc", "_special_secret_sig"),
                 ("pulumi.runtime.rpc", "_special_resource_sig"), ("pulumi.runtime.sync_await", "_sync_await"),
                 ("pulumi.runtime.settings", "set_root_resource"), ("pulumi.runtime.settings", "get_root_resource"))


def check() -> list[str]:
    """The private names this SDK no longer has (empty when synth can trust it)."""
    import importlib

    missing = []
    for module, name in PRIVATE_NAMES:
        try:
            if not hasattr(importlib.import_module(module), name):
                missing.append(f"{module}.{name}")
        except ImportError:
            missing.append(f"{module}.{name}")
    return missing


def wire_signature(struct: Any) -> str | None:
    """The special signature of a serialized value (secret, resource reference...), or None."""
    from pulumi.runtime import rpc

    sig = struct.fields.get(rpc._special_sig_key)
    return str(sig.string_value) if sig is not None else None


def is_secret_signature(sig: str | None) -> bool:
    from pulumi.runtime import rpc

    return sig == rpc._special_secret_sig


def is_resource_signature(sig: str | None) -> bool:
    from pulumi.runtime import rpc

    return sig == rpc._special_resource_sig


def run_sync(awaitable: Awaitable[T]) -> T:
    """Run a coroutine of the SDK on its own event loop, as the SDK's tests do."""
    from pulumi.runtime.sync_await import _sync_await

    return _sync_await(awaitable)


def reset_root_stack() -> None:
    """Forget the root stack resource of an earlier run, so repeated synths never share outputs."""
    from pulumi.runtime import settings

    settings.set_root_resource(None)  # type: ignore[arg-type]


def root_stack() -> Any:
    from pulumi.runtime import settings

    return settings.get_root_resource()
