"""One HTTP exchange and reading what came back: the client, SSE assembly, error bodies, response
shapes, conformance to the pinned OpenAI spec, the classifier, the reference and plug-in parsers,
and acceptance checks.

May import: `workbench.core`.
"""
