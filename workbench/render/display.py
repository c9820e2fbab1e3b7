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

import html
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, LiteralString

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from workbench.core.terminaltext import printable

if TYPE_CHECKING:
    from workbench.rollback.advice import NextStep

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
    text = _LINE_BREAKS.sub(" ", printable(str(value)))
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


def next_steps(steps: Iterable[NextStep]) -> Any:
    """The advisor's next steps as a Markdown list: the action in bold, why, then each command."""
    lines = [
        md(
            "- **{what}**{why}{commands}",
            what=step.what,
            why=md(" ({why})", why=step.why) if step.why else md(""),
            commands=md(": {list}", list=join("; ", (code(command) for command in step.commands)))
            if step.commands
            else md(""),
        )
        for step in steps
    ]
    return markdown(join("\n", lines))


def table(frame: pd.DataFrame) -> Styler:
    """`frame` styled for a report, with every cell, index and column label HTML-escaped (pandas'
    Styler writes them raw by default); style it further with `.map`, `.hide`, `.set_properties`.

    Read by people, not Python: `True`/`False` show as yes/no, milliseconds rounded, a missing value
    as "-", a mapping or list as one "key: value" line per item; a row number index (0..N) is never
    shown, and an index's name heads its column in the header row, never a row of its own (a pivot
    table's empty index-name row); numbers are right-aligned (text is left-aligned by the page) and
    long text wraps anywhere, so a table fits the page at 800 px instead of being cut, except names
    (environments, probes), which wrap only between words, never letter by letter.
    """
    frame = _index_named_in_header(frame)
    styler = frame.style.format(_escaped).format_index(_escaped, axis=0).format_index(_escaped, axis=1)
    for column in frame.columns:
        values = frame[column]
        if _milliseconds(column) and pd.api.types.is_numeric_dtype(values):
            styler = styler.format(_rounded, subset=[column])
        if _numeric(values):
            styler = styler.set_properties(subset=[column], **{"text-align": "right"})
        elif str(column) in NAME_COLUMNS:
            styler = styler.set_properties(subset=[column], **{"overflow-wrap": "normal"})
        elif values.map(lambda value: len(_cell(value))).max() > _PROSE:
            styler = styler.set_properties(
                subset=[column], **{"overflow-wrap": "anywhere", "min-width": "8em"}
            )
    if isinstance(frame.index, pd.RangeIndex):
        styler = styler.hide(axis="index")
    elif frame.columns.name is not None:
        styler = styler.hide(axis="index", names=True)
    return styler


NAME_COLUMNS = frozenset({"env", "environment", "environments", "probe"})  # wrap only between words


def _index_named_in_header(frame: pd.DataFrame) -> pd.DataFrame:
    """An index with a name: one level heads its column in the header row (as the columns' name,
    which the Styler puts above the index); several levels become ordinary columns."""
    if isinstance(frame.index, pd.RangeIndex) or not any(name is not None for name in frame.index.names):
        return frame
    if frame.index.nlevels > 1:
        return frame.reset_index()
    named = frame.copy(deep=False)
    named.columns = named.columns.copy()
    named.columns.name = frame.index.name
    return named


def shown(frame: pd.DataFrame, empty: Md) -> Any:
    """`table(frame)`, or the sentence `empty` when there is no row (never a header-only table)."""
    return markdown(empty) if frame.empty else table(frame)


_PROSE = 40  # characters: a column holding longer text may wrap anywhere (ids, paths, JSON paths)


def _escaped(value: object) -> str:
    """A cell's text, HTML-escaped here: the formatter sees the raw value (a mapping's keys too);
    control, bidirectional and zero-width characters shown as `\\uXXXX`, as on the terminal."""
    return html.escape(printable(_cell(value)), quote=True)


def _cell(value: object) -> str:
    """One cell as a person reads it (not yet escaped)."""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if value is None or value is pd.NA or value is pd.NaT:
        return "-"
    if isinstance(value, float | np.floating):
        return "-" if value != value else f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, Mapping):
        return "\n".join(f"{key}: {_cell(item)}" for key, item in value.items()) or "-"
    if isinstance(value, list | tuple):
        return "\n".join(_cell(item) for item in value) or "-"
    return str(value)


def _rounded(value: object) -> str:
    """Milliseconds as a whole number: `16.362` is 16."""
    if isinstance(value, int | float | np.number) and not isinstance(value, bool) and value == value:
        return f"{float(value):,.0f}"
    return _escaped(value)


def _milliseconds(column: object) -> bool:
    name = str(column)
    return name.endswith("_ms") or name.endswith("(ms)")


def _numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
