"""What a stack holds and how it changes: frozen resources, the one diff (with values) and the one count.

Used by the memory engine (its state), the offline PR diff (two syntheses), the Pulumi adapter and the
renderer. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from automation.model.changes import ResourceChange
from automation.model.valuediff import value_changes


@dataclass(frozen=True)
class Resource:
    """One resource as a stack declares it: URN, type, name and its (sanitized) inputs."""

    urn: str
    type: str
    name: str
    inputs: Mapping[str, Any]
    #: the resource option protect (what the policy pack's prod-stateful-protected looks at)
    protect: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "inputs": dict(self.inputs), "protect": self.protect}


#: URN -> resource
Snapshot = Mapping[str, Resource]


def snapshot(resources: Iterable[Resource]) -> dict[str, Resource]:
    return {r.urn: r for r in resources}


def from_json(doc: Mapping[str, Mapping[str, Any]]) -> dict[str, Resource]:
    """A snapshot from its JSON form (``{urn: {"type", "name", "inputs"}}``: synth's and the memory engine's)."""
    return {urn: Resource(urn, str(r["type"]), str(r["name"]), dict(r.get("inputs") or {}), bool(r.get("protect")))
            for urn, r in doc.items()}


def to_json(snap: Snapshot) -> dict[str, dict[str, Any]]:
    return {urn: r.to_json() for urn, r in snap.items()}


def diff(old: Snapshot, new: Snapshot) -> tuple[ResourceChange, ...]:
    """Every resource of either snapshot, sorted by URN: create, delete, update (with its changed top-level
    input keys and each changed property's values) or same."""
    changes = []
    for urn, res in new.items():
        if urn not in old:
            changes.append(ResourceChange(urn, res.type, res.name, "create"))
            continue
        before, after = old[urn].inputs, res.inputs
        keys = tuple(sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)))
        changes.append(ResourceChange(urn, res.type, res.name, "update" if keys else "same", keys,
                                      properties=value_changes(before, after) if keys else ()))
    changes += [ResourceChange(urn, res.type, res.name, "delete") for urn, res in old.items() if urn not in new]
    return tuple(sorted(changes, key=lambda c: c.urn))


def count(changes: Iterable[ResourceChange]) -> dict[str, int]:
    """Operation -> number of resources."""
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.op] = counts.get(change.op, 0) + 1
    return counts
