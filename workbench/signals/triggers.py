"""Rollback triggers by symptom class: rules read from TOML, and what each rule means.

The checklist (section 4) asks for specific triggers per symptom class, not "responses look bad",
and insists that thresholds are local choices: the shipped numbers are examples to tune. A rule
is either *consecutive* (N failures of one class in a row on one series) or *rate* (more than a
share of the samples in a recent window, once the window holds enough samples). The judgement of
a rule lives here, once: `trends` feeds it counts the store computes in SQL, or counts over
in-memory samples.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.errors import ConfigError
from workbench.core.locations import TRIGGERS_FILE
from workbench.core.models import Symptom, action_for
from workbench.core.tomlfile import parse_toml, read_text
from workbench.history.aggregates import SeriesRun, WindowCounts

DEFAULT_TRIGGERS_PATH = TRIGGERS_FILE  # relative: the project folder a notebook kernel works in

# The one source of the default rules. `data/triggers.toml` ships as a byte-for-byte copy (a test
# keeps them equal) so users edit a file that documents itself, and a checkout without the file
# (or an installed package) behaves the same.
DEFAULT_RULES_TOML = """\
# Contract Workbench rollback triggers: when a symptom class says "roll back" (checklist section 4).
#
# These numbers are EXAMPLES, not universal thresholds: tune them to your traffic volume and risk
# tolerance, or take them from your own SLOs. Each [[rule]] watches one symptom class
# (transport, auth, validation, rate_limit, server, parser, quality) in one of two ways:
#
#   consecutive = N      fire after N consecutive failures of this class on one series
#                        (one probe of one environment, or one request log)
#
#   rate = R             fire when more than this share (0 < R <= 1) of the samples...
#   window_minutes = W   ...with a timestamp in the last W minutes...
#   min_samples = M      ...shows this class, once the window holds at least M samples
#
# A sample is a pass or a fail (skipped, operator-gated and could-not-run results are not).
# `name` is optional; the default is "<symptom>-consecutive" or "<symptom>-rate".
# `workbench watch` and the trend views read this file; delete it to get these defaults back.

# "Valid API responses cannot be mapped by your app": a broken parser fails every time.
[[rule]]
symptom = "parser"
consecutive = 5

# Connection failures, timeouts and non-JSON responses come in bursts: judge a share of traffic.
[[rule]]
symptom = "transport"
rate = 0.2
window_minutes = 60
min_samples = 20

# "Sudden unauthorized responses after deployment": a wrong secret reference never recovers.
[[rule]]
symptom = "auth"
consecutive = 3

# "Increase in malformed or invalid-request responses": a request-builder change.
[[rule]]
symptom = "validation"
rate = 0.1
window_minutes = 60
min_samples = 20

# Rate limiting is a capacity signal before it is a rollback signal: a high bar.
[[rule]]
symptom = "rate_limit"
rate = 0.3
window_minutes = 30
min_samples = 20

# Server errors are retryable; only a sustained share points at routing or endpoint overrides.
[[rule]]
symptom = "server"
rate = 0.2
window_minutes = 30
min_samples = 20

# "Outputs are valid but fail internal acceptance checks".
[[rule]]
symptom = "quality"
consecutive = 3
"""

_KEYS = ("name", "symptom", "consecutive", "rate", "window_minutes", "min_samples")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_RULE_SYMPTOMS = [symptom for symptom in Symptom if symptom is not Symptom.NONE]

_Fail = Callable[[str, str], ConfigError]

# Far past any sensible threshold, yet inside what SQL integers and `timedelta` hold: a larger value
# is a typo that would otherwise end in an OverflowError deep in the store or the clock.
MAX_COUNT = 1_000_000_000  # consecutive, min_samples
MAX_WINDOW_MINUTES = 366 * 24 * 60  # one year


@dataclass(frozen=True, slots=True)
class Rule:
    """One trigger: exactly one of `consecutive` or `rate` (with its window and minimum) is set."""

    name: str
    symptom: Symptom
    consecutive: int | None = None
    rate: float | None = None
    window_minutes: float | None = None
    min_samples: int | None = None

    def __post_init__(self) -> None:
        """Rules built in code (notebooks, tests) hold the same invariants as rules read from TOML."""
        rate_parts = (self.rate, self.window_minutes, self.min_samples)
        if self.consecutive is not None:
            if self.consecutive < 1 or any(part is not None for part in rate_parts):
                raise ValueError(f"rule {self.name!r}: consecutive >= 1 and no rate, window or minimum")
        elif any(part is None for part in rate_parts) or not 0 < (self.rate or 0) <= 1:
            raise ValueError(
                f"rule {self.name!r}: set consecutive, or rate in (0, 1] with window_minutes and min_samples"
            )
        elif (self.window_minutes or 0) <= 0 or (self.min_samples or 0) < 1:
            raise ValueError(f"rule {self.name!r}: window_minutes and min_samples must be positive")
        if max(self.consecutive or 0, self.min_samples or 0) > MAX_COUNT:
            raise ValueError(f"rule {self.name!r}: consecutive and min_samples must be at most {MAX_COUNT:,}")
        if (self.window_minutes or 0) > MAX_WINDOW_MINUTES:
            raise ValueError(f"rule {self.name!r}: window_minutes must be at most {MAX_WINDOW_MINUTES:,}")

    @property
    def kind(self) -> str:
        return "consecutive" if self.consecutive is not None else "rate"

    def describe(self) -> str:
        if self.consecutive is not None:
            return f"{self.name}: {self.consecutive} consecutive {self.symptom} failures on one series"
        return (
            f"{self.name}: more than {_percent(self.rate or 0.0)} {self.symptom} in the last "
            f"{_minutes(self.window_minutes)} min (at least {self.min_samples} samples)"
        )


@dataclass(frozen=True, slots=True)
class Firing:
    """One rule judged for one environment: fired or not, with the evidence either way."""

    rule: Rule
    env: str
    series: str  # consecutive: the probe (or log) with the longest run; rate: what was counted
    evidence: str
    action: str  # the checklist's rollback action for the rule's symptom class
    fired: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.name,
            "symptom": str(self.rule.symptom),
            "env": self.env,
            "series": self.series,
            "fired": self.fired,
            "evidence": self.evidence,
            "action": self.action,
        }


def judge_consecutive(rule: Rule, env: str, runs: Iterable[SeriesRun]) -> Firing:
    """Fires when some series' newest `rule.consecutive` samples all show the rule's class."""
    assert rule.consecutive is not None
    runs = list(runs)
    if not runs:
        return _firing(rule, env, "", False, "no samples")
    matching = sorted(
        (run for run in runs if run.symptom == rule.symptom),
        key=lambda run: (run.length, run.latest),
        reverse=True,
    )
    if not matching:
        return _firing(
            rule, env, "", False, f"longest current run of {rule.symptom} failures 0 of {rule.consecutive}"
        )
    best = matching[0]
    if best.length < rule.consecutive:
        return _firing(
            rule,
            env,
            best.series,
            False,
            f"longest current run of {rule.symptom} failures {best.length} of {rule.consecutive} "
            f"(on {best.series})",
        )
    others = sum(1 for run in matching[1:] if run.length >= rule.consecutive)
    more = f"; {others} more series" if others else ""
    return _firing(
        rule,
        env,
        best.series,
        True,
        f"{best.count} consecutive {rule.symptom} failures on {best.series} (latest {best.latest}){more}",
    )


def judge_rate(rule: Rule, env: str, counts: WindowCounts, *, series: str) -> Firing:
    """Fires when the window holds at least `min_samples` and the class's share is above `rate`."""
    assert rule.rate is not None and rule.min_samples is not None
    window = f"in the last {_minutes(rule.window_minutes)} min"
    if counts.samples < rule.min_samples:
        return _firing(
            rule, env, series, False, f"{counts.samples} samples < min {rule.min_samples} {window}"
        )
    showing = counts.showing.get(str(rule.symptom), 0)
    share = showing / counts.samples
    fired = share > rule.rate
    evidence = f"{_percent(share)} {rule.symptom} ({showing} of {counts.samples} samples) {window}"
    if not fired:
        evidence += f", not above {_percent(rule.rate)}"
    return _firing(rule, env, series, fired, evidence)


def default_rules() -> list[Rule]:
    return parse_rules(DEFAULT_RULES_TOML, source=Path("<built-in triggers>"))


def load_rules(path: Path | None = None) -> list[Rule]:
    """`path`, else `data/triggers.toml` when it exists, else the built-in defaults."""
    if path is None:
        if not DEFAULT_TRIGGERS_PATH.exists():
            return default_rules()
        path = DEFAULT_TRIGGERS_PATH
    return parse_rules(
        read_text(path, not_found="file not found (pass an existing triggers TOML)"), source=path
    )


def parse_rules(text: str, *, source: Path) -> list[Rule]:
    """Validate triggers TOML; every error names the file and `rule[i].key` (or the line)."""
    data = parse_toml(text, source=source)
    for key in data:
        if key != "rule":
            raise ConfigError("unknown key (only [[rule]] tables belong here)", path=source, field=key)
    tables = data.get("rule")
    if not tables:
        raise ConfigError("no rules defined: add a [[rule]] table", path=source)
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise ConfigError("must be an array of tables, written [[rule]]", path=source, field="rule")
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for index, table in enumerate(tables):
        rule = _parse_rule(table, source, index)
        if rule.name in seen:
            raise ConfigError(
                f"duplicate rule name {rule.name!r} (also rule[{seen[rule.name]}]): "
                "give one a distinct `name`",
                path=source,
                field=f"rule[{index}].name",
            )
        seen[rule.name] = index
        rules.append(rule)
    return rules


def _parse_rule(table: Mapping[str, Any], source: Path, index: int) -> Rule:
    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(message, path=source, field=f"rule[{index}].{key}")

    for key in table:
        if key not in _KEYS:
            raise fail(key, f"unknown key (known: {', '.join(_KEYS)})")
    symptom_text = table.get("symptom")
    if symptom_text is None:
        raise fail("symptom", "required key is missing")
    known = ", ".join(str(symptom) for symptom in _RULE_SYMPTOMS)
    if not isinstance(symptom_text, str) or symptom_text not in _RULE_SYMPTOMS:
        raise fail("symptom", f"unknown symptom class {symptom_text!r} (known: {known})")
    symptom = Symptom(symptom_text)
    has_consecutive, has_rate = "consecutive" in table, "rate" in table
    if has_consecutive == has_rate:
        which = "both" if has_consecutive else "neither"
        raise fail(
            "consecutive" if has_consecutive else "rate",
            f"set exactly one of consecutive or rate ({which} set)",
        )
    if has_consecutive:
        for key in ("window_minutes", "min_samples"):
            if key in table:
                raise fail(key, "applies only to rate rules (remove it, or use rate instead of consecutive)")
        consecutive = _positive_int(table["consecutive"], fail, "consecutive")
        name = _name(table, f"{symptom}-consecutive", fail)
        return Rule(name, symptom, consecutive=consecutive)
    rate = table["rate"]
    if not _is_number(rate) or not 0 < rate <= 1:
        raise fail("rate", f"must be a share in (0, 1], e.g. 0.2 for 20%; got {rate!r}")
    for key in ("window_minutes", "min_samples"):
        if key not in table:
            raise fail(key, "required with rate (window_minutes and min_samples)")
    window = table["window_minutes"]
    if not _is_number(window) or not window > 0:
        raise fail("window_minutes", f"must be a positive number of minutes; got {window!r}")
    if window > MAX_WINDOW_MINUTES:
        raise fail("window_minutes", f"must be at most {MAX_WINDOW_MINUTES:,} (a year); got {window!r}")
    min_samples = _positive_int(table["min_samples"], fail, "min_samples")
    name = _name(table, f"{symptom}-rate", fail)
    return Rule(name, symptom, rate=float(rate), window_minutes=float(window), min_samples=min_samples)


def _positive_int(value: Any, fail: _Fail, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail(key, f"must be a positive whole number; got {value!r}")
    if value > MAX_COUNT:
        raise fail(key, f"must be at most {MAX_COUNT:,}; got {value}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _name(table: Mapping[str, Any], default: str, fail: _Fail) -> str:
    name = table.get("name", default)
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail("name", f"must be letters, digits, '.', '_' or '-' (at most 64); got {name!r}")
    return name


def _firing(rule: Rule, env: str, series: str, fired: bool, evidence: str) -> Firing:
    return Firing(rule, env, series, evidence, action_for(rule.symptom), fired)


def _percent(share: float) -> str:
    return f"{share * 100:.1f}".removesuffix(".0") + "%"


def _minutes(minutes: float | None) -> str:
    return f"{minutes:g}"
