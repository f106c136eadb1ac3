"""The model: the values every layer shares -- resource changes and policy violations, an operation's outcome, the
snapshot and value diff, the CI request, health specs and results, the errors and their exit codes. Standard library
only; imports nothing of the layers above (config, review, engines, adapters, flow, cli)."""
