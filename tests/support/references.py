"""The Secret and ConfigMap keys a pod spec references, checked against what the cluster holds: kwok marks pods Ready
without starting containers, so a wrong `secretKeyRef` would pass every "available" assertion (issue 28). Pure."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def references(pod: Mapping[str, Any]) -> Iterator[tuple[str, str, str | None, bool]]:
    """(kind ``Secret``|``ConfigMap``, name, key or None for the whole object, optional) of every reference."""
    for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                ref = source.get(field)
                if ref:
                    yield kind, ref["name"], ref["key"], bool(ref.get("optional"))
        for env_from in container.get("envFrom") or []:
            for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                ref = env_from.get(field)
                if ref:
                    yield kind, ref["name"], None, bool(ref.get("optional"))
    for volume in pod.get("volumes") or []:
        for field, kind, name_key in (("secret", "Secret", "secretName"), ("configMap", "ConfigMap", "name")):
            ref = volume.get(field)
            if ref:
                items = ref.get("items") or []
                for item in items:
                    yield kind, ref[name_key], item["key"], bool(ref.get("optional"))
                if not items:
                    yield kind, ref[name_key], None, bool(ref.get("optional"))


def missing(pod: Mapping[str, Any], objects: Mapping[tuple[str, str], Mapping[str, Any]]) -> list[str]:
    """The references of ``pod`` that ``objects`` ((kind, name) -> the object as the API returns it) cannot satisfy."""
    out = []
    for kind, name, key, optional in references(pod):
        obj = objects.get((kind, name))
        keys = set((obj or {}).get("data") or {}) | set((obj or {}).get("binaryData") or {})
        if optional:
            continue
        if obj is None:
            out.append(f"{kind} {name} does not exist")
        elif key is not None and key not in keys:
            out.append(f"{kind} {name} has no key {key!r} (it has: {', '.join(sorted(keys)) or 'none'})")
    return out
