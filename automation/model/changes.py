"""What an engine operation changes, as values: resource steps, changed properties, policy violations. Standard
library only; secret values never enter them (the engines blind them first)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from automation.model.resources import STATEFUL_TYPES

#: A resource step as the Pulumi engine names it (pulumi.automation.events.OpType's values; a test keeps them equal).
ResourceOp = Literal["same", "create", "update", "delete", "replace", "create-replacement", "delete-replaced", "read",
                     "read-replacement", "refresh", "discard", "discard-replaced", "remove-pending-replace", "import",
                     "import-replacement"]
RESOURCE_OPS: frozenset[str] = frozenset(get_args(ResourceOp))
DESTRUCTIVE_OPS = frozenset({"delete", "replace", "create-replacement", "delete-replaced"})


@dataclass(frozen=True)
class PropertyChange:
    """One changed property of a resource, as display text that is safe to print (:mod:`automation.model.valuediff`
    builds it: secrets are ``[secret]`` on both sides, values the engine does not know yet are ``[unknown]``)."""

    #: a Pulumi property path: ``spec.template.spec.containers[0].image``, ``data["config.json"]``
    path: str
    #: the value before and after as text (strings as they are, everything else as compact JSON); None: absent
    old: str | None
    new: str | None
    #: the provider replaces the resource because of this property
    forces_replacement: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "old": self.old, "new": self.new, "forces_replacement": self.forces_replacement}


@dataclass(frozen=True)
class PolicyViolation:
    """A violation of a policy of the project's pack (automation.review.policy): from the real CLI's policy events, or
    evaluated offline on what synth records. Never carries a property value that could be secret."""

    policy: str
    #: mandatory (blocks the operation), advisory (reported)
    level: str
    urn: str
    name: str
    message: str
    type: str = ""
    #: what the policy requires and how to fix a violation
    fix: str = ""
    severity: str = ""
    #: the reason of the environments.yaml waiver that covers it; None: not waived
    waived: str | None = None

    @property
    def blocking(self) -> bool:
        return self.level == "mandatory" and self.waived is None

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "level": self.level, "severity": self.severity, "urn": self.urn,
                "type": self.type, "name": self.name, "message": self.message, "fix": self.fix, "waived": self.waived}


@dataclass(frozen=True)
class ResourceChange:
    urn: str
    type: str
    name: str
    op: ResourceOp
    keys: tuple[str, ...] = ()
    #: whether losing this resource loses data: given by the project's `stateful` patterns, else by type
    stateful: bool | None = None
    #: the changed properties with their values (updates, replacements, drift); () for creates and deletes
    properties: tuple[PropertyChange, ...] = ()

    @property
    def stateful_loss(self) -> bool:
        holds_data = self.stateful if self.stateful is not None else self.type in STATEFUL_TYPES
        return holds_data and self.op in DESTRUCTIVE_OPS

    @property
    def replaced_by(self) -> tuple[PropertyChange, ...]:
        """The properties that force this resource's replacement."""
        return tuple(p for p in self.properties if p.forces_replacement)
