"""Text from elsewhere reaches a report's HTML only escaped: Markdown from `md`, tables from `table`.

Rendered here with the same Markdown renderer nbconvert uses for the HTML reports (`markdown2html`,
mistune), and pandas' own Styler HTML: what a browser would parse. The browser itself is in
test_report_escaping.py (slow).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from nbconvert.filters.markdown import markdown2html
from pandas.io.formats.style import Styler

from workbench.render.charts import script_json
from workbench.render.display import Md, code, escape_markdown, join, markdown, md, shown, table

PAYLOADS = (
    "<img src=x onerror=\"document.title='pwned'\">",
    "<script>document.title='pwned'</script>",
    '"><svg onload="document.title=\'pwned\'">',
    "[click](javascript:document.title='pwned')",
    "</style><script>document.title='pwned'</script>",
    "**bold** _it_ `code` # heading | cell $x^2$ ![i](x) <!-- c --> \\* &amp;",
)


def rendered(text: Md) -> BeautifulSoup:
    return BeautifulSoup(markdown2html(str(text)), "html.parser")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_value_in_markdown_is_shown_as_the_very_text_it_was(payload: str) -> None:
    page = rendered(md("- **{env}**: {detail}", env="staging", detail=payload))
    (item,) = page.select("li")
    assert item.get_text() == f"staging: {payload}"
    assert [tag.name for tag in item.find_all(True)] == ["strong"]  # only the template's own markup


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_value_in_a_code_span_stays_inside_it(payload: str) -> None:
    page = rendered(md("run {command} now", command=code(payload + "`")))
    (span,) = page.select("code")
    assert span.get_text() == payload + "`"
    assert not span.find_all(True)


def test_a_line_break_in_a_value_cannot_start_a_block_of_its_own() -> None:
    page = rendered(md("- {value}", value="first\n\n# heading\n    indented"))
    assert not page.select("h1, pre") and len(page.select("li")) == 1


def test_md_pieces_nest_without_being_escaped_twice() -> None:
    pieces = [md("**{a}**", a="<x>"), md("{b}", b="[y](z)")]
    assert rendered(join("; ", pieces)).get_text().strip() == "<x>; [y](z)"
    assert escape_markdown("run 2026-12-02.1: a=b") == "run 2026-12-02.1: a=b"  # ids stay readable


def test_markdown_takes_only_text_built_by_md() -> None:
    assert markdown(md("fine: {v}", v="<b>")).data == "fine: &#60;b&#62;"
    with pytest.raises(TypeError, match="md"):
        markdown("<b>raw</b>")  # type: ignore[arg-type]


def test_a_table_escapes_cells_index_and_column_labels() -> None:
    frame = pd.DataFrame({PAYLOADS[2]: [PAYLOADS[0]], "n": [1.5]}, index=pd.Index([PAYLOADS[1]]))
    page = BeautifulSoup(table(frame).to_html(), "html.parser")
    assert not page.select("img, svg, script")
    text = page.get_text(" ")
    assert all(payload in text for payload in PAYLOADS[:3]) and "1.5" in text


def test_a_plain_data_frame_is_escaped_by_pandas_itself() -> None:
    """Views return a few DataFrames as they are (provenance, drift): their HTML escapes by default."""
    page = BeautifulSoup(pd.DataFrame({"a": [PAYLOADS[0]]})._repr_html_() or "", "html.parser")
    assert not page.select("img") and PAYLOADS[0] in page.get_text()


def test_json_inside_a_script_has_no_markup_characters_and_the_same_value() -> None:
    value = {"title": "</script><!--<script>&", "n": [1, 2]}
    text = script_json(value)
    assert not set("<>&") & set(text)
    assert json.loads(text) == value


def test_a_table_reads_as_words_not_python() -> None:
    """Issue 13: `True`/`False`, `16.362000` ms and a 0..N index column were shown (pandas' defaults)."""
    frame = pd.DataFrame(
        {
            "env": ["reference", "drifted"],
            "retryable": pd.array([True, None], dtype="boolean"),
            "usage": [False, None],
            "ttft_ms": [16.362, None],
            "share": [0.25, 1.0],
            "recorded": [{"timeout_s": 30, "labels": {"service": "<b>chat</b>"}}, ["a", "b"]],
        }
    )
    page = BeautifulSoup(table(frame).to_html(), "html.parser")
    rows = [[td.get_text() for td in tr.find_all("td")] for tr in page.find_all("tr")[1:]]
    assert rows == [
        ["reference", "yes", "no", "16", "0.25", "timeout_s: 30\nlabels: service: <b>chat</b>"],
        ["drifted", "-", "-", "-", "1", "a\nb"],
    ]
    assert not page.select("tbody th") and not page.select("b")  # no index column; JSON stays text
    css = page.style.get_text() if page.style else ""
    (right,) = [rule for rule in css.split("}") if "text-align: right" in rule]
    assert "row0_col3" in right and "row1_col4" in right and "col0" not in right  # numbers only


def test_an_empty_table_is_a_sentence() -> None:
    empty = pd.DataFrame(columns=["probe", "kind", "field"])
    assert shown(empty, md("No field changed.")).data == "No field changed."
    assert isinstance(shown(pd.DataFrame({"a": [1]}), md("none")), Styler)


@pytest.mark.parametrize("character", ["\u202e", "\u2066", "\u200b", "\ufeff", "\u200f"])
def test_bidirectional_and_zero_width_characters_are_shown_not_obeyed(character: str) -> None:
    # Observed before (issue 20): U+202E from an endpoint's error message reached the HTML reports raw,
    # reversing what a reviewer read after it.
    value = f"model{character}gnp.exe"
    html = table(pd.DataFrame({"detail": [value], value: [1]})).to_html()
    assert character not in html and f"\\u{ord(character):04x}" in html
    assert character not in escape_markdown(value)


def test_a_pivot_table_has_no_row_of_its_own_for_the_index_name() -> None:
    """Issue 22: "Symptom classes x environments" carried a header row with only "symptom class" in it."""
    frame = pd.crosstab(
        pd.Series(["parser", "auth"], name="symptom class"), pd.Series(["a", "b"], name="environment")
    )
    page = BeautifulSoup(table(frame).to_html(), "html.parser")
    header = [[th.get_text() for th in tr.find_all("th")] for tr in page.select("thead tr")]
    assert header == [["symptom class", "a", "b"]]
    two = pd.DataFrame(
        {"a": [1]}, index=pd.MultiIndex.from_tuples([("usage", "removed")], names=["field", "ablation"])
    )
    page = BeautifulSoup(table(two).to_html(), "html.parser")
    assert [[th.get_text() for th in tr.find_all("th")] for tr in page.select("thead tr")] == [
        ["field", "ablation", "a"]
    ]


def test_names_wrap_only_between_words() -> None:
    """Issue 22: environment names broke letter by letter ("e n v - 0 1") in a squeezed table."""
    frame = pd.DataFrame(
        {"environment": ["55 environments: env-01, env-02, env-03 and 52 more"], "detail": ["x" * 50]}
    )
    css = BeautifulSoup(table(frame).to_html(), "html.parser").style.get_text()
    (names,) = [rule for rule in css.split("}") if "col0" in rule]
    (detail,) = [rule for rule in css.split("}") if "col1" in rule]
    assert "overflow-wrap: normal" in names and "overflow-wrap: anywhere" in detail
