"""The one place the program reads Pulumi config: every key of this project, then ``load_settings``."""

from __future__ import annotations

import pulumi
from pulumi.runtime import config as runtime_config

from infra.settings import PROJECT, SECRET_KEYS, Settings, SettingsError, config_keys, load_settings


def _present_project_keys() -> set[str]:
    """Keys set for this project in the stack, so a misspelt key is an error rather than ignored."""
    present = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{PROJECT}:"
    return {key[len(prefix):] for key in present if key.startswith(prefix)}


def read_settings() -> Settings:
    """Read every key of the current stack once and validate them (raises SettingsError)."""
    project = pulumi.Config(PROJECT)
    keys = set(config_keys()) | _present_project_keys()
    values: dict[str, str | None] = {key: project.get(key) for key in sorted(keys)}
    values["aws:region"] = pulumi.Config("aws").get("region")
    for key in SECRET_KEYS:  # declared without `secret: true` (see Pulumi.yaml): refuse a plaintext value here
        if values.get(key) and not runtime_config.is_config_secret(f"{PROJECT}:{key}"):
            raise SettingsError(pulumi.get_stack(), key, "[secret]", "an encrypted value: pulumi config set --secret " + key)
    return load_settings(pulumi.get_stack(), values)
