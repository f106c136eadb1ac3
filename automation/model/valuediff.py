"""Value-level diffs: which properties of a resource change, from what to what. Pure.

One model (:class:`automation.model.changes.PropertyChange`) for both sources of a change:

- the real CLI's step events (:func:`step_changes`): the old and new inputs of the step, the provider's detailed
  diff (property paths with ``update``/``update-replace``/...), or, for providers that report none (dynamic
  providers), the inputs compared here and the step's replace keys;
- the offline diff of two synth snapshots (:func:`value_changes`).

Secrets never become text: the CLI sends a secret as ``{"4dabf1...": "1b4706...", "ciphertext": "[secret]"}``
(its blinding crypter, with ``show_secrets`` off) and synth as ``[secret]``; both become ``[secret]`` on both
sides, and a secret is never compared by length or shape. A value the engine does not know yet (the CLI's
unknown sentinel, synth's ``[unknown]``) is ``[unknown]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from automation.model.changes import PropertyChange

SECRET = "[secret]"  # noqa: S105 - a marker, not a secret
UNKNOWN = "[unknown]"
#: pulumi's secret signature key and value (sdk/go/common/resource/sig), as the CLI's events carry them
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 - a signature, not a secret
#: pulumi's unknown-value sentinel in serialized properties (plugin.UnknownStringValue)
_CLI_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
_ABSENT = object()
#: keys written as `.name` (as Pulumi's property paths do); any other key is quoted: `tags["cost-center"]`
_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
#: one segment of a property path: name, ["quoted key"] or [index]
_SEGMENT = re.compile(r'\.?([A-Za-z_$][A-Za-z0-9_$]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\.?(\*)')
_REPLACE_KINDS = frozenset({"add-replace", "delete-replace", "update-replace"})


def is_secret(value: Any) -> bool:
    return value == SECRET or (isinstance(value, Mapping) and value.get(_SIG_KEY) == _SECRET_SIG)


def normalize(value: Any) -> Any:
    """Engine-internal forms to plain values: secrets -> ``[secret]``, unknowns -> ``[unknown]``, other
    signatures (assets, resource references) to a short marker, ``__``-keys dropped, whole floats to ints."""
    if is_secret(value):
        return SECRET
    if value == _CLI_UNKNOWN or value == UNKNOWN:
        return UNKNOWN
    if isinstance(value, Mapping):
        if _SIG_KEY in value:
            return "[resource reference]" if "urn" in value else "[asset]"
        return {str(k): normalize(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def display(value: Any) -> str | None:
    """A normalized value as text: strings as they are, the rest as compact JSON; None for absent."""
    if value is _ABSENT:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENT.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def parse_path(path: str) -> tuple[str | int, ...] | None:
    """``a.b[0]["c.d"]`` -> ``("a", "b", 0, "c.d")``; None when the text is not a property path."""
    parts: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _SEGMENT.match(path, pos)
        if m is None or m.end() == pos:
            return None
        name, index, quoted, star = m.groups()
        if star is not None:
            return None  # wildcards name many properties: the caller compares the parent instead
        parts.append(name if name is not None else int(index) if index is not None else json.loads(f'"{quoted}"'))
        pos = m.end()
    return tuple(parts)


def lookup(value: Any, parts: Iterable[str | int]) -> Any:
    for part in parts:
        if isinstance(part, int) and isinstance(value, list) and 0 <= part < len(value):
            value = value[part]
        elif isinstance(part, str) and isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return _ABSENT
    return value


def _walk(old: Any, new: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """(path, old, new) for each leaf that differs; a secret or unknown on either side is a leaf."""
    if old == new:  # two secrets are equal as markers: whether they differ is not known here (secret_changes)
        return
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new)):
            yield from _walk(old.get(key, _ABSENT), new.get(key, _ABSENT), join(path, key))
        return
    if isinstance(old, list) and isinstance(new, list) and old and new:
        for i in range(max(len(old), len(new))):
            yield from _walk(old[i] if i < len(old) else _ABSENT, new[i] if i < len(new) else _ABSENT, join(path, i))
        return
    yield path, old, new


def value_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, *,
                  replace_keys: Iterable[str] = ()) -> tuple[PropertyChange, ...]:
    """The changed leaves between two property maps (any engine form). ``replace_keys``: top-level keys that force
    a replacement (the step's ``keys``), marking every changed property under them."""
    forcing = set(replace_keys)
    before, after = normalize(dict(old or {})), normalize(dict(new or {}))
    out = []
    for path, a, b in _walk(before, after, ""):
        top = parse_path(path)
        out.append(PropertyChange(path, display(a), display(b), bool(top and top[0] in forcing)))
    return tuple(out)


def secret_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, *,
                   replace_keys: Iterable[str] = ()) -> tuple[PropertyChange, ...]:
    """The secret-valued properties of a step that changes without a visible difference: they are what changed,
    shown as ``[secret] → [secret]`` (their values are blinded, so equal-looking)."""
    forcing = set(replace_keys)
    before, after = normalize(dict(old or {})), normalize(dict(new or {}))
    paths: list[str] = []

    def find(value: Any, path: str) -> None:
        if value == SECRET:
            paths.append(path)
        elif isinstance(value, Mapping):
            for key in sorted(value):
                find(value[key], join(path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                find(item, join(path, i))

    find(after, "")
    out = []
    for path in dict.fromkeys(paths):
        parts = parse_path(path) or ()
        was = lookup(before, parts)
        out.append(PropertyChange(path, display(was), SECRET, bool(parts and parts[0] in forcing)))
    return tuple(out)


def detailed_changes(old_inputs: Mapping[str, Any] | None, old_outputs: Mapping[str, Any] | None,
                     new_inputs: Mapping[str, Any] | None, detailed: Mapping[str, tuple[str, bool]]) -> tuple[PropertyChange, ...]:
    """The provider's detailed diff (path -> (kind, input_diff)) with the values at each path. A path whose values
    are maps or lists is expanded to its changed leaves; one that cannot be read (a wildcard, a secret
    parent) is shown whole at its nearest readable parent."""
    before_in, before_out = normalize(dict(old_inputs or {})), normalize(dict(old_outputs or {}))
    after = normalize(dict(new_inputs or {}))
    out: dict[str, PropertyChange] = {}
    for path, (kind, input_diff) in sorted(detailed.items()):
        forces = kind in _REPLACE_KINDS
        parts = parse_path(path)
        while parts is None and ("." in path or "[" in path):  # a wildcard: fall back to the parent
            path = path.rsplit(".", 1)[0] if path.rfind(".") > path.rfind("[") else path[:path.rfind("[")]
            parts = parse_path(path)
        parts = parts or ()
        a = lookup(before_in if input_diff or not before_out else before_out, parts)
        b = lookup(after, parts) if not kind.startswith("delete") else _ABSENT
        leaves = list(_walk(a, b, path))
        if not leaves:
            # equal-looking values: blinded secrets, or state the provider compares differently (outputs)
            leaves = [(path, a, b)]
        for leaf, x, y in leaves:
            prior = out.get(leaf)
            out[leaf] = PropertyChange(leaf, display(x), display(y), forces or bool(prior and prior.forces_replacement))
    return tuple(out.values())


def step_changes(op: str, old_inputs: Mapping[str, Any] | None, old_outputs: Mapping[str, Any] | None,
                 new_inputs: Mapping[str, Any] | None, *, replace_keys: Iterable[str] = (), diffs: Iterable[str] = (),
                 detailed: Mapping[str, tuple[str, bool]] | None = None) -> tuple[tuple[str, ...], tuple[PropertyChange, ...]]:
    """What one engine step changes: (top-level keys, properties with values). Creates, deletes and reads list
    nothing (the whole resource is the change). The provider's detailed diff when it gives one; otherwise the
    inputs compared here, the step's ``keys`` marking what forces a replacement, and, when nothing visible
    differs, the secret inputs (the only thing that can have changed)."""
    if op not in ("update", "replace", "create-replacement", "refresh"):
        return (), ()
    replace_keys = tuple(replace_keys)
    if detailed:
        props = detailed_changes(old_inputs, old_outputs, new_inputs, detailed)
    else:
        props = value_changes(old_inputs, new_inputs, replace_keys=replace_keys)
        if not props:
            props = secret_changes(old_inputs, new_inputs, replace_keys=replace_keys)
    listed = [*diffs, *[k for k in replace_keys if k not in diffs]]
    tops = [str(parts[0]) for parts in (parse_path(p.path) for p in props) if parts]
    return tuple(dict.fromkeys(listed or tops)), props


def merge(earlier: Iterable[PropertyChange], later: Iterable[PropertyChange]) -> tuple[PropertyChange, ...]:
    """The properties of several steps of one resource (a replacement's replace and create-replacement steps)."""
    out: dict[str, PropertyChange] = {}
    for p in (*earlier, *later):
        prior = out.get(p.path)
        out[p.path] = p if prior is None else PropertyChange(
            p.path, prior.old if prior.old is not None else p.old, p.new if p.new is not None else prior.new,
            prior.forces_replacement or p.forces_replacement)
    return tuple(out.values())
