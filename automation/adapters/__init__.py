"""The outside world other than Pulumi: git, the GitHub API, the health probe, the team backend's bootstrap (boto3),
the per-stack lock and interrupt handling. Imports the model and config; never the engines beside it."""
