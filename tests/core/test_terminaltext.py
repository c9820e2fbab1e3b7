"""Control characters in text from outside are shown as escapes, never sent to the terminal raw."""

from __future__ import annotations

import json

from workbench.core.terminaltext import printable


def test_escape_sequences_and_controls_become_visible_escapes() -> None:
    hostile = "a\x1b[2Jb\x1b]0;title\x07c\rreference: ready\x9bX\u202eY\x08\x00\x7f"
    shown = printable(hostile)
    assert shown == (
        "a\\u001b[2Jb\\u001b]0;title\\u0007c\\u000dreference: ready\\u009bX\\u202eY\\u0008\\u0000\\u007f"
    )
    assert all(ch.isprintable() for ch in shown)


def test_line_feeds_tabs_and_ordinary_text_stay() -> None:
    assert (
        printable("line one\n\tline two: é 日本 [bold]x[/bold]")
        == "line one\n\tline two: é 日本 [bold]x[/bold]"
    )


def test_inside_json_the_escapes_keep_the_value() -> None:
    value = {"detail": "x\x9by\u202ez\x1b"}
    shown = printable(json.dumps(value, ensure_ascii=False))
    assert json.loads(shown) == value and "\x9b" not in shown
