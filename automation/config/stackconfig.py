"""A stack's configuration as Pulumi would hand it to the program, read from the project files.

``Pulumi.yaml`` declares every key with its default; ``Pulumi.<stack>.yaml`` overrides them. A
personal stack (``dev-<name>``) has no file of its own: its config is the template environment's
plus a few derived values. Used by the offline synth and by the Automation API adapter, so both
see the same config. Pure except for reading the two YAML files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from automation.model.errors import ConfigError

#: Pulumi's rule for stack names: letters, digits, '-', '_', '.', at most 100 characters.
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
#: Personal environment names: short DNS-safe labels, as they become namespaces and database names.
PERSONAL_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,28}[a-z0-9])?$")
#: Stands in for a ``secure:`` value, which cannot be decrypted offline. Marked secret, never shown.
OFFLINE_SECRET_PLACEHOLDER = "offline-placeholder-secret"  # noqa: S105 - a marker, not a secret


@dataclass(frozen=True)
class PersonalSpec:
    """How a personal stack derives from its template environment stack."""

    name: str
    template: str
    shared_stack: str

    @classmethod
    def of(cls, project: str, name: str, template: str) -> PersonalSpec:
        """The spec of personal stack ``name`` on ``template``; the shared stack is named as self-managed backends do."""
        return cls(name=name, template=template, shared_stack=f"organization/{project}/{template}")

    def derived_values(self, project: str) -> dict[str, str]:
        return {
            f"{project}:environment": "personal",
            f"{project}:ghostNamespace": f"ghost-{self.name}",
            f"{project}:ghostDatabaseName": "ghost_" + self.name.replace("-", "_"),
            f"{project}:sharedStack": self.shared_stack,
        }


@dataclass(frozen=True)
class StackConfig:
    stack: str
    project: str
    values: Mapping[str, str]
    secret_keys: frozenset[str]
    source: str
    personal: PersonalSpec | None = None
    declared: Mapping[str, Any] = field(default_factory=dict)
    #: the stack file as the CLI reads it (for a personal stack: derived from the template, see personal_document)
    document: Mapping[str, Any] = field(default_factory=dict)


def _to_config_string(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not a YAML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a YAML mapping")
    return data


def project_name(root: Path) -> str:
    name = _read_yaml(root / "Pulumi.yaml").get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{root / 'Pulumi.yaml'} has no project name")
    return name


def personal_spec(stack: str, project: str, template: str = "dev", prefix: str = "dev-") -> PersonalSpec | None:
    """The personal spec of ``stack`` if it is ``<prefix><name>``; None otherwise (used without environments.yaml)."""
    if not stack.startswith(prefix) or len(stack) == len(prefix):
        return None
    name = stack[len(prefix):]
    if not PERSONAL_NAME.match(name):
        raise ConfigError(
            f"personal stack {stack!r}: {name!r} must be 1-30 lower-case letters, digits or '-' "
            "(it becomes a Kubernetes namespace and a database name)")
    return PersonalSpec.of(project, name, template)


def load_stack_config(root: Path, stack: str, personal: PersonalSpec | None = None) -> StackConfig:
    """Config of ``stack``: project defaults, then the stack file (or the template's plus derived values).

    :param root: the project directory (holds Pulumi.yaml).
    :param stack: the stack name.
    :param personal: how to derive a personal stack. A personal stack is always derived from its
        template (a ``Pulumi.<stack>.yaml`` the Automation API wrote for it is output, not input);
        without it, ``dev-<name>`` derives from ``dev`` when ``Pulumi.<stack>.yaml`` does not exist.
    :raises ConfigError: unknown stack, unreadable file, or a bad stack name.
    """
    if not STACK_NAME.match(stack):
        raise ConfigError(f"stack name {stack!r} is invalid: use 1-100 letters, digits, '-', '_' or '.'")
    project_doc = _read_yaml(root / "Pulumi.yaml")
    project = project_name(root)
    declared = project_doc.get("config") or {}
    values: dict[str, str] = {}
    secret_keys: set[str] = set()
    for key, decl in declared.items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(decl, dict) and "default" in decl:
            values[full] = _to_config_string(decl["default"])
        if isinstance(decl, dict) and decl.get("secret"):
            secret_keys.add(full)

    stack_file = root / f"Pulumi.{stack}.yaml"
    if personal is None and (not stack_file.exists() or is_engine_written(stack_file)):
        personal = personal_spec(stack, project)
    elif personal is not None and stack_file.exists() and not is_engine_written(stack_file):
        raise ConfigError(f"{stack_file.name} is not read: personal stack {stack!r} takes its config from "
                          f"Pulumi.{personal.template}.yaml plus derived values (README, 'Commands'); move the "
                          f"settings you need into Pulumi.{personal.template}.yaml, then delete {stack_file.name}")
    source_stack = personal.template if personal else stack
    source_file = root / f"Pulumi.{source_stack}.yaml"
    if source_file.is_dir():
        raise ConfigError(f"{source_file} is a directory, not a YAML file: the stack file of {source_stack} must be a file")
    if not source_file.exists():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise ConfigError(f"unknown stack {stack!r}: there is no {source_file.name} (known stacks: "
                          f"{', '.join(known) or 'none'}; personal stacks are dev-<name>)")
    stack_doc = _read_yaml(source_file)
    derived = personal is not None and source_stack != stack
    if derived:
        assert personal is not None
        template_config = stack_doc.get("config") or {}
        hosts = template_config.get(f"{project}:{HOSTS_PERSONAL}", template_config.get(HOSTS_PERSONAL))
        if HOSTS_PERSONAL in declared and _to_config_string(hosts) != "true":  # a project that declares the key
            raise ConfigError(f"personal stack {stack!r} runs on {source_stack!r}, which does not host personal stacks: "
                              f"set `{project}:{HOSTS_PERSONAL}: true` in {source_file.name} (its bootstrap then installs "
                              "the personal stacks' database provisioner), or name another template in environments.yaml")
        stack_doc = personal_document(stack_doc, personal, project)
    for key, raw in (stack_doc.get("config") or {}).items():
        if not isinstance(key, str):
            raise ConfigError(f"{source_file.name}: config key {key!r} must be a string")
        full = key if ":" in key else f"{project}:{key}"
        if raw is None or raw == "":  # an explicit empty value would silently become the default
            raise ConfigError(f"{source_file.name}: config key {full!r} of stack {stack!r} is set to an empty value, "
                              "which the program would take as its default: give it a value, or remove the key to "
                              "use the default on purpose")
        if isinstance(raw, dict) and set(raw) == {"secure"}:
            values[full] = OFFLINE_SECRET_PLACEHOLDER
            secret_keys.add(full)
        else:
            values[full] = _to_config_string(raw)
    source = f"{source_file.name} + derived values for personal stack {stack}" if derived else source_file.name
    return StackConfig(stack=stack, project=project, values=values, secret_keys=frozenset(secret_keys),
                       source=source, personal=personal if derived else None, declared=declared, document=stack_doc)


#: Keys of a stack file that say how its secrets are encrypted; a personal stack shares its template's, so the
#: template's ``secure:`` values decrypt unchanged (same passphrase salt, or same KMS-encrypted data key).
SECRETS_KEYS = ("secretsprovider", "encryptedkey", "encryptionsalt")
#: Template keys a personal stack never inherits: it serves plain HTTP on its own name, and hosts no other stacks.
NOT_INHERITED = ("ghostHostname", "ghostCertificateArn", "hostsPersonalStacks")
#: The template's key that says personal stacks may run on it (its bootstrap installs their database provisioner);
#: enforced for projects that declare it in Pulumi.yaml.
HOSTS_PERSONAL = "hostsPersonalStacks"


#: First line of the stack files the engine writes for personal stacks: output, never read back as input.
ENGINE_WRITTEN_HEADER = "# Written by the GitOps engine from its template stack's file; never edit (see README)."


def is_engine_written(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as fh:
            return fh.readline().rstrip("\n") == ENGINE_WRITTEN_HEADER
    except (OSError, UnicodeDecodeError):
        return False


def personal_document(template_doc: Mapping[str, Any], personal: PersonalSpec, project: str) -> dict[str, Any]:
    """The stack file of a personal stack: the template's config (arrays, objects and ``secure:`` values
    intact) and secrets settings, without the keys it must not inherit, plus the derived values.

    The one derivation used by the offline synth and by the engine (which writes it as ``Pulumi.<stack>.yaml``).
    """
    dropped = {f"{project}:{k}" for k in NOT_INHERITED} | set(NOT_INHERITED)
    config = {k: v for k, v in (template_doc.get("config") or {}).items() if k not in dropped}
    config.update(personal.derived_values(project))
    doc: dict[str, Any] = {k: template_doc[k] for k in SECRETS_KEYS if k in template_doc}
    doc["config"] = config
    return doc
