"""Text a view hands its notebook to show: Markdown, rendered in JupyterLab and in the exported HTML.

IPython is imported on the first call only, so the views import (and are tested) without a kernel.
"""

from __future__ import annotations

from typing import Any


def markdown(text: str) -> Any:
    """`text` as a Markdown display object (the last expression of a notebook cell)."""
    from IPython.display import Markdown

    return Markdown(text)
