"""What a stack holds (URN -> type, name, inputs) and how it changes: the one diff and the one count.

Used by the memory engine (its state), the offline PR diff (two syntheses) and the renderer. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from automation.engine import ResourceChange

#: URN -> {"type": ..., "name": ..., "inputs": {...}}, as synth's JSON and the memory engine's state hold it.
Snapshot = Mapping[str, Mapping[str, Any]]


def diff(old: Snapshot, new: Snapshot) -> tuple[ResourceChange, ...]:
    """Every resource of either snapshot, sorted by URN: create, delete, update (with its changed top-level
    input keys) or same."""
    changes = []
    for urn, res in new.items():
        if urn not in old:
            changes.append(ResourceChange(urn, res["type"], res["name"], "create"))
            continue
        before, after = old[urn]["inputs"], res["inputs"]
        keys = tuple(sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)))
        changes.append(ResourceChange(urn, res["type"], res["name"], "update" if keys else "same", keys))
    changes += [ResourceChange(urn, res["type"], res["name"], "delete") for urn, res in old.items() if urn not in new]
    return tuple(sorted(changes, key=lambda c: c.urn))


def count(changes: Iterable[ResourceChange]) -> dict[str, int]:
    """Operation -> number of resources."""
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.op] = counts.get(change.op, 0) + 1
    return counts
