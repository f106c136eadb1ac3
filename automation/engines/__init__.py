"""The engines behind one port (:mod:`automation.engines.port`): the Pulumi Automation API adapter, the in-memory
engine, offline synth under the mock runtime, and the toolchain and plugins they need. The only layer that imports
the Pulumi SDK (lazily). Imports the model, config and review; never the adapters beside it."""
