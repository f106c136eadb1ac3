"""What a reviewer reads and what a merge is held to: the policy pack's settings and offline evaluation, the cost
estimate and its rendering, the plan fingerprint, the audit message, the report model, renderers and redaction.
Imports only the model and config."""
