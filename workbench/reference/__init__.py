"""The embedded reference endpoint: a real chat-completions server on loopback, drifting on demand.

May import: `workbench.core`. Nothing of the probes: it plays the provider, not the auditor.
"""
