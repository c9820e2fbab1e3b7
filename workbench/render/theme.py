"""The report colours: one palette for every chart and table, so a colour means the same in each report.

Charts colour by symptom class and outcome; table cells are styled (pandas `Styler` CSS) from a
few fills and text colours: good (green), attention (amber: an operator or a rerun is needed),
bad (red), not run (grey).
"""

from __future__ import annotations

from workbench.core.models import Symptom
from workbench.rollback.headline import State

# Charts: one colour per symptom class, the same in every chart and every report.
SYMPTOM_COLOURS: dict[str, str] = {
    Symptom.NONE: "#4c9a5d",
    Symptom.TRANSPORT: "#8c6d31",
    Symptom.AUTH: "#d62728",
    Symptom.VALIDATION: "#ff7f0e",
    Symptom.RATE_LIMIT: "#9467bd",
    Symptom.SERVER: "#7f7f7f",
    Symptom.PARSER: "#1f77b4",
    Symptom.QUALITY: "#e377c2",
}

OUTCOME_COLOURS: dict[str, str] = {
    "pass": "#4c9a5d",
    "fail": "#d62728",
    "skip": "#bdbdbd",
    "needs_operator": "#ffbf00",
    "error": "#636363",
}

THRESHOLD_COLOUR = "#b71c1c"  # a trigger's threshold drawn over a chart: the bad text colour

# Table cells: the parts, then the usual combinations.
GOOD_FILL = "background-color:#e3f4e6"
GOOD_TEXT = "color:#1b5e20"
ATTENTION_FILL = "background-color:#fff3cd"
ATTENTION_TEXT = "color:#7a5d00"
BAD_FILL = "background-color:#fde2e1"
BAD_TEXT = "color:#b71c1c"
NOT_RUN_FILL = "background-color:#eeeeee"
NOT_RUN_TEXT = "color:#555"
SKIPPED_TEXT = "color:#777"
MUTED_TEXT = "color:#6b6b6b"  # a cell with nothing to judge
EMPTY_TEXT = "color:#bbb"  # a zero among counts
BOLD = "font-weight:bold"


def css(*parts: str) -> str:
    """One cell style from its parts: `css(BAD_FILL, BAD_TEXT, BOLD)`."""
    return ";".join(parts)


GOOD = css(GOOD_FILL, GOOD_TEXT)
ATTENTION = css(ATTENTION_FILL, ATTENTION_TEXT)
BAD = css(BAD_FILL, BAD_TEXT)
NOT_RUN = css(NOT_RUN_FILL, NOT_RUN_TEXT)


def state_css(state: State) -> str:
    """A headline verdict's cell: green when it can ship, red when it cannot, amber when an operator
    is needed, grey-purple when the auditor could not judge (our cause, not the endpoint's)."""
    return {
        State.READY: css(GOOD, BOLD),
        State.CONTRACT_PASSES: css(GOOD, BOLD),
        State.NOT_READY: css(BAD, BOLD),
        State.WAITING: css(ATTENTION, BOLD),
        State.COULD_NOT_JUDGE: css(NOT_RUN, BOLD),
    }[state]
