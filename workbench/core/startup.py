"""Start-up cost of the workbench's own processes (the command, the report kernel), kept down.

jsonschema imports `rfc3987_syntax` whenever it is installed (JupyterLab's jupyter-events pulls it
in as a format extra), and that module compiles a grammar at import: about 2.5 s, paid by every
import of papermill, nbformat or altair. Nothing the workbench runs validates IRI formats, so its
own processes mark the module unavailable; jsonschema then simply does not check that one format.
The library itself never does this on import: a program that imports `workbench` keeps its own
modules as they are.
"""

from __future__ import annotations

import sys

_SLOW_OPTIONAL = ("rfc3987_syntax",)


def skip_slow_optional_imports() -> None:
    """Mark the slow optional modules absent for this process (unless something already loaded them)."""
    for name in _SLOW_OPTIONAL:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "import fails", by design
