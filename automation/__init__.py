"""The GitOps engine: ``python -m automation``. Heavy Pulumi imports happen only where they are needed."""
