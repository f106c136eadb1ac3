"""Configuration, read and validated once: the environments file (branch -> stack rules), a stack's config as
Pulumi would hand it to the program, and the support calendar. Imports only the model."""
