"""The real-engine fixture program: a stateful database, a plain record, a secret record, a secret output."""

import pulumi

from fixture_cloud import Database, Record

config = pulumi.Config()
cloud = config.require("cloudDir")
zones = config.require_object("zones")
assert isinstance(zones, list) and all(isinstance(z, str) for z in zones), f"zones must stay an array, got {zones!r}"
database = Database("database", cloud, config.get("databaseName") or "app", size_gb=config.get_int("databaseSizeGb"))
record = Record("settings", cloud, pulumi.Output.concat(config.get("greeting") or "hello", " ", ",".join(zones)),
                opts=pulumi.ResourceOptions(depends_on=[database]))
token = config.get_secret("apiToken") or pulumi.Output.secret("")
Record("token", cloud, token)
pulumi.export("zones", zones)
pulumi.export("token", token)
pulumi.export("environment", config.get("environment"))
pulumi.export("healthUrl", config.get("healthUrl") or "")
shared = config.get("sharedStack")
if shared:
    pulumi.export("sharedZones", pulumi.StackReference("shared", stack_name=shared).get_output("zones"))
if config.get_bool("teardown"):
    # the cleanup a teardown does, left behind on purpose so the test can see it ran before the destroy
    Record("teardown-marker", cloud, f"torn down {pulumi.get_stack()}", opts=pulumi.ResourceOptions(retain_on_delete=True))
