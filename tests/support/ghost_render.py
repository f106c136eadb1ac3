"""What the program renders for Ghost, read from the offline synth: its config, scripts, bootstrap Job, Deployment,
the database's parameters and admin user (the real-client tests of the db tier)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.support.paths import ROOT
from tests.support.program import synth


@dataclass
class Rendered:
    config: dict[str, Any]
    scripts: dict[str, str]
    job: dict[str, Any]
    deployment: dict[str, Any]
    parameters: dict[str, str]
    admin_user: str
    image: str


def render(stack: str) -> Rendered:
    result = synth(stack)
    manifests = {(m["kind"], m["metadata"]["name"]): m for _, m in result.manifests()}
    cm = manifests[("ConfigMap", "ghost-config")]["data"]
    deployment = manifests[("Deployment", "ghost")]
    job = manifests[("Job", "ghost-db-bootstrap")]
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    if stack.startswith("dev-"):  # a personal stack's database is dev's RDS instance: its parameters and master user
        result = synth("dev")
    (params,) = result.of_type("aws:rds/parameterGroup:ParameterGroup")
    (db,) = result.of_type("aws:rds/instance:Instance")
    return Rendered(config=json.loads(cm["config.json"]),
                    scripts={k: v for k, v in cm.items() if k != "config.json"}, job=job, deployment=deployment,
                    parameters={p["name"]: str(p["value"]) for p in params.inputs["parameters"]},
                    admin_user=str(db.inputs["username"]), image=image)


def render_teardown(stack: str) -> dict[str, Any]:
    """The bootstrap Job as the teardown `up` before a personal stack's destroy renders it."""
    from dataclasses import replace

    from automation.config.environments import load_environments
    from automation.engines.synth import synthesize

    envs = load_environments(ROOT)
    route = envs.by_stack(stack)
    assert route is not None and route.rule.before_destroy_config
    config = envs.stack_config(ROOT, stack)
    torn = synthesize(ROOT, replace(config, values={**config.values, **route.rule.before_destroy_config}))
    (job,) = [m for _, m in torn.manifests() if m["kind"] == "Job"]
    return job


def ghost_version(image: str) -> str:
    tag = image.split("@")[0].split(":", 1)[1]
    return tag.removesuffix("-alpine")
