"""The one place the program reads Pulumi config: every key of this project, then ``load_settings``."""

from __future__ import annotations

import pulumi
from pulumi.runtime import config as runtime_config

from infra.settings import PROJECT, SECRET_KEYS, Settings, SettingsError, check_namespaces, config_keys, load_settings


def _present_project_keys() -> set[str]:
    """Keys set for this project in the stack, so a misspelt key is an error rather than ignored."""
    present = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{PROJECT}:"
    return {key[len(prefix):] for key in present if key.startswith(prefix)}


def _file_stack(values: dict[str, str | None]) -> str | None:
    """The stack whose file holds this stack's config: a personal stack's template (its ``sharedStack``)."""
    shared = values.get("sharedStack")
    return shared.rsplit("/", 1)[-1] if values.get("environment") == "personal" and shared else None


def read_settings() -> Settings:
    """Read every key of the current stack once and validate them (raises SettingsError naming the file to fix)."""
    stack = pulumi.get_stack()
    project = pulumi.Config(PROJECT)
    keys = set(config_keys()) | _present_project_keys()
    values: dict[str, str | None] = {key: project.get(key) for key in sorted(keys)}
    values["aws:region"] = pulumi.Config("aws").get("region")
    file_stack = _file_stack(values)
    try:
        present = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
        check_namespaces(stack, present)
        for key in SECRET_KEYS:  # declared without `secret: true` (see Pulumi.yaml): refuse a plaintext value here
            if values.get(key) and not runtime_config.is_config_secret(f"{PROJECT}:{key}"):
                raise SettingsError(stack, key, "[secret]", "an encrypted value",
                                    fix=f"pulumi config set --secret {key} ...")
        return load_settings(stack, values)
    except SettingsError as exc:
        raise exc.located(file_stack) if file_stack else exc from None
