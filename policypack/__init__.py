"""The ghost-gitops policy pack: the security baseline and project rules as CrossGuard policies.

``rules.py`` holds every policy as a pure function (no Pulumi import); ``crossguard.py`` wraps them for the
Pulumi CLI (``pulumi-policy``); ``__main__.py`` is what the CLI runs. README: "Policy as code".
"""
