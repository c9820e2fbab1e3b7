"""What a view hands its notebook to show, escaped on the way: Markdown and tables.

Reports are shared, and much of their text comes from elsewhere: an endpoint's error messages,
JSON keys and finish reasons, configuration values, operator notes, all read back from a store
others may write to. So no view builds HTML or Markdown from such text itself: Markdown is made
with `md` (every value escaped, Markdown syntax included, so `[x](javascript:...)` or `<img>` stay
text) and tables with `table` (a pandas `Styler` that escapes every cell and label). A plain
`DataFrame` is escaped by pandas itself (`to_html(escape=True)`, its notebook display).

IPython is imported on the first call only, so the views import (and are tested) without a kernel.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, LiteralString

import pandas as pd
from pandas.io.formats.style import Styler

# Characters that make markup in HTML or inline (GitHub-flavoured) Markdown, and `$` (math in JupyterLab).
# Written as numeric character references: HTML and every CommonMark renderer (nbconvert's mistune,
# JupyterLab's marked) show them as the character itself, after parsing, inside <code> too. `-`, `+`,
# `.` and `=` mean something only at the start of a line (a list, a rule), which a value never is once
# its line breaks are gone, and they would make every id and number in the notebook's source unreadable.
_SIGNIFICANT = re.compile(r"[&<>\"'\\`*_{}\[\]()#!|~$]")
_LINE_BREAKS = re.compile(r"[\r\n]+")


class Md(str):
    """Markdown in which every value from elsewhere was escaped: the only text `markdown` accepts."""

    __slots__ = ()


def escape_markdown(value: object) -> str:
    """`value` as literal text in Markdown or HTML: no tag, link, emphasis or math survives, nor a line
    break (which could start a block of its own)."""
    text = _LINE_BREAKS.sub(" ", str(value))
    return _SIGNIFICANT.sub(lambda match: f"&#{ord(match.group())};", text)


def md(template: LiteralString, /, **values: object) -> Md:
    """`template` (written here, trusted) with `{name}` fields filled by escaped `values`; an `Md` value
    goes in as it is (it was built by `md`)."""
    return Md(template.format(**{name: _piece(value) for name, value in values.items()}))


def code(value: object) -> Md:
    """`value` in a code span: an HTML element, so a backtick in the value cannot end it."""
    return Md(f"<code>{escape_markdown(value)}</code>")


def join(separator: LiteralString, pieces: Iterable[Md]) -> Md:
    """`Md` pieces joined into one (the separator is trusted Markdown too)."""
    return Md(separator.join(pieces))


def _piece(value: object) -> str:
    return str(value) if isinstance(value, Md) else escape_markdown(value)


def markdown(text: Md) -> Any:
    """`text` as a Markdown display object (the last expression of a notebook cell)."""
    from IPython.display import Markdown

    if not isinstance(text, Md):  # a runtime check too: notebooks are not type-checked
        raise TypeError("markdown() takes text built with md(), which escapes every value")
    return Markdown(str(text))


def table(frame: pd.DataFrame) -> Styler:
    """`frame` styled for a report, with every cell, index and column label HTML-escaped (pandas'
    Styler writes them raw by default); style it further with `.map`, `.hide`, `.set_properties`."""
    return (
        frame.style.format(escape="html")
        .format_index(escape="html", axis=0)
        .format_index(escape="html", axis=1)
    )
