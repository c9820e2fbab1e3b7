"""Watch the application's own request log after a traffic shift (checklist steps 8-10).

The probes see a sanitized request; the log sees real traffic. Each line (JSON lines, or CSV with
a header) becomes a sample in the same symptom classes as a probe result: a status goes through
the classifier (`wire.classify.classify_logged`), which also maps an exception name by what it
means (timeouts and connection errors are transport, a KeyError in the app is the parser). Then
the same trigger rules are judged. A bad line is reported with its number, never fatal: a log that
is 1% garbage still says whether to roll back. Only a line longer than the probe client's byte cap
ends the read (no request log has one; `/dev/zero` has no line end at all).
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import re
from collections import Counter
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from workbench.core import clock
from workbench.core.errors import ConfigError
from workbench.core.models import Symptom
from workbench.signals.trends import Sample, evaluate_samples
from workbench.signals.triggers import Firing, Rule, load_rules
from workbench.wire import boundedjson
from workbench.wire.classify import classify_logged
from workbench.wire.client import DEFAULT_MAX_BODY_BYTES

LogFormat = Literal["auto", "jsonl", "csv"]

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True, slots=True)
class LogColumns:
    """Which field of a log line holds what (JSON keys or CSV header names)."""

    timestamp: str = "timestamp"
    status: str = "status"
    error: str = "error"
    exception: str = "exception"
    latency_ms: str = "latency_ms"

    @classmethod
    def parse(cls, assignments: Iterable[str]) -> LogColumns:
        """Columns from "FIELD=NAME" assignments (`workbench watch --column`); the rest keep their names.

        An unknown FIELD or an empty NAME is a `ConfigError` listing the fields there are.
        """
        known = [column.name for column in fields(cls)]
        names: dict[str, str] = {}
        for assignment in assignments:
            key, separator, name = assignment.partition("=")
            if not separator or key not in known or not name:
                raise ConfigError(
                    f"expected FIELD=NAME with FIELD one of {', '.join(known)}, got {assignment!r}",
                    field="--column",
                )
            names[key] = name
        return cls(**names)


@dataclass(frozen=True, slots=True)
class LogSample:
    """One request from the log, classified."""

    line: int
    at: datetime
    status: int | None
    symptom: Symptom
    detail: str
    latency_ms: float | None


@dataclass(frozen=True)
class WatchReport:
    """What the log says: samples per class, each rule's judgement, and the lines that were not read."""

    path: Path
    samples: int
    counts: Mapping[str, int]  # symptom class -> samples ("none": the request succeeded)
    firings: list[Firing]
    malformed: list[tuple[int, str]]  # (line number, reason)
    now: datetime | None  # where the rate windows ended (None: no samples)
    first: datetime | None = None
    last: datetime | None = None
    examples: Mapping[str, str] = field(default_factory=dict)  # class -> newest "line N: detail"
    env: str = ""  # the environment whose traffic this is (default: the log's file name)
    fields_seen: tuple[str, ...] = ()  # the first record's keys (CSV: the header): for a --column hint
    misnamed: bool = False  # the log calls the timestamp, or both status and exception, otherwise

    @property
    def fired(self) -> bool:
        return any(firing.fired for firing in self.firings)

    @property
    def fired_firings(self) -> list[Firing]:
        return [firing for firing in self.firings if firing.fired]


class _Malformed(Exception):
    """A line that cannot become a sample; the message is the reason reported."""


def watch(
    path: Path,
    *,
    rules: Sequence[Rule] | None = None,
    columns: LogColumns = LogColumns(),  # frozen: one shared default is safe
    fmt: LogFormat = "auto",
    now: datetime | None = None,
    env: str | None = None,
) -> WatchReport:
    """Classify every line of a request log and judge the rules (default: `load_rules()`).

    Rate windows end at `now`, or by default at the newest timestamp in the log, so a log from
    last week replays as it was. The series (and environment) of every sample is `env`, by default
    the log's name.
    """
    rules = load_rules() if rules is None else rules
    kind = _detect_format(path, fmt)
    samples: list[LogSample] = []
    malformed: list[tuple[int, str]] = []
    seen: tuple[str, ...] = ()
    records = _jsonl_records(path) if kind == "jsonl" else _csv_records(path, columns)
    for line, record in records:
        try:
            if isinstance(record, str):
                raise _Malformed(record)
            seen = seen or tuple(str(key)[:64] for key in list(record)[:20])
            samples.append(_sample(record, columns, line))
        except _Malformed as exc:
            malformed.append((line, str(exc)))
    name = env or path.name
    moment = now if now is not None else max((s.at for s in samples), default=None)
    firings = evaluate_samples([Sample(name, s.at, s.symptom) for s in samples], rules, env=name, now=moment)
    counted = Counter(str(s.symptom) for s in samples)
    examples = {str(s.symptom): f"line {s.line}: {s.detail}" for s in sorted(samples, key=lambda s: s.at)}
    return WatchReport(
        path=path,
        samples=len(samples),
        counts={str(symptom): counted[symptom] for symptom in Symptom if counted[symptom]},
        firings=firings,
        malformed=malformed,
        now=moment,
        first=min((s.at for s in samples), default=None),
        last=max((s.at for s in samples), default=None),
        examples={str(symptom): examples[symptom] for symptom in Symptom if symptom in examples},
        env=name,
        fields_seen=seen,
        misnamed=bool(seen)
        and (columns.timestamp not in seen or (columns.status not in seen and columns.exception not in seen)),
    )


def _sample(record: Mapping[str, Any], columns: LogColumns, line: int) -> LogSample:
    at = _timestamp(record.get(columns.timestamp), columns.timestamp)
    status = _status(record.get(columns.status), columns.status)
    latency = _latency(record.get(columns.latency_ms), columns.latency_ms)
    error = _field_text(record.get(columns.error))
    exception = _field_text(record.get(columns.exception)).strip() or None
    if status is None and not exception:
        raise _Malformed("no status and no exception")
    classified = classify_logged(status, error, exception)
    symptom, detail = classified.symptom, classified.detail
    return LogSample(line, at, status, symptom, detail, latency)


def _timestamp(value: Any, key: str) -> datetime:
    if _blank(value):
        raise _Malformed(f"missing timestamp ({key!r})")
    epoch = _number(value)
    if epoch is not None:
        try:
            return clock.from_epoch(epoch)
        except (OverflowError, OSError, ValueError):
            raise _Malformed(
                f"timestamp {value!r} is out of range for epoch seconds (milliseconds?)"
            ) from None
    if isinstance(value, str):
        try:
            return clock.parse_iso(value)
        except ValueError:
            raise _Malformed(f"timestamp {value[:40]!r} is neither ISO 8601 nor epoch seconds") from None
    raise _Malformed(f"timestamp {value!r} is neither ISO 8601 nor epoch seconds")


def _status(value: Any, key: str) -> int | None:
    if _blank(value):
        return None
    number = _number(value)  # "401.0" too: a CSV written from a column with gaps
    if number is None or not number.is_integer() or not 100 <= number <= 599:
        raise _Malformed(f"{key} {str(value)[:40]!r} is not an HTTP status")
    return int(number)


def _latency(value: Any, key: str) -> float | None:
    if _blank(value):
        return None
    number = _number(value)
    if number is None or not math.isfinite(number) or number < 0:
        raise _Malformed(f"{key} {str(value)[:40]!r} is not a latency in milliseconds")
    return number


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value: Any) -> float | None:
    """A JSON number or a numeric string (CSV); None for anything else, booleans included."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)
    return None


def _field_text(value: Any) -> str:
    """A log field as text; an error body logged as JSON stays JSON, so the classifier can read it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _detect_format(path: Path, fmt: LogFormat) -> Literal["jsonl", "csv"]:
    """An explicit format, else by suffix, else by the first non-blank line ("{": JSON lines)."""
    if fmt == "jsonl" or fmt == "csv":
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    for text in _lines(path):
        if text.strip():
            return "jsonl" if text.lstrip().startswith("{") else "csv"
    return "jsonl"


def _lines(path: Path) -> Generator[str, None, None]:
    """The file's lines as text (line ends kept, for CSV), each read under the byte cap."""
    with _open(path) as handle:
        for number, raw in enumerate(iter(lambda: handle.readline(DEFAULT_MAX_BODY_BYTES + 1), b""), 1):
            if len(raw) > DEFAULT_MAX_BODY_BYTES:
                cap = f"{DEFAULT_MAX_BODY_BYTES:,}-byte cap"
                raise ConfigError(f"line {number} is longer than the {cap}: not a request log", path=path)
            text = raw.decode("utf-8", errors="replace")
            yield text.removeprefix("\ufeff") if number == 1 else text


def _open(path: Path) -> Any:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise ConfigError("log file not found", path=path) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a log file", path=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=path) from None


def _jsonl_records(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    """(line number, object), or (line number, reason) for a line that is not a JSON object."""
    for number, text in enumerate(_lines(path), start=1):
        if not text.strip():
            continue
        try:
            record = boundedjson.loads(text)
        except boundedjson.JSONBoundsError as exc:
            yield number, str(exc)
            continue
        except json.JSONDecodeError as exc:
            yield number, f"not JSON ({exc.msg} at char {exc.pos})"
            continue
        if not isinstance(record, dict):
            yield number, f"not a JSON object ({type(record).__name__})"
            continue
        yield number, record


def _csv_records(path: Path, columns: LogColumns) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    """(line number, row by header name), or (line number, reason) for a row that does not fit."""
    with contextlib.closing(_lines(path)) as lines:
        reader = csv.reader(lines)
        header = _csv_header(reader, path, columns)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield reader.line_num, f"unreadable CSV ({exc})"
                continue
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(header):
                yield reader.line_num, f"{len(row)} fields, the header has {len(header)}"
                continue
            yield reader.line_num, dict(zip(header, row, strict=True))


def _csv_header(reader: Any, path: Path, columns: LogColumns) -> list[str]:
    try:
        header = next((row for row in reader if row and any(cell.strip() for cell in row)), None)
    except csv.Error as exc:
        raise ConfigError(f"unreadable CSV header ({exc})", path=path) from None
    if header is None:
        raise ConfigError(
            f"empty CSV: expected a header row naming the columns "
            f"({columns.timestamp}, {columns.status}, ...)",
            path=path,
        )
    header = [cell.strip() for cell in header]
    named = ", ".join(header)[:120]
    if columns.timestamp not in header:
        raise ConfigError(
            f"no header naming the timestamp column {columns.timestamp!r} (first row: {named}); "
            f"add a header, or name the log's columns: --column timestamp=NAME (and status=, error=, "
            "exception=, latency_ms= as needed)",
            path=path,
        )
    if columns.status not in header and columns.exception not in header:
        raise ConfigError(
            f"the header names neither the status column {columns.status!r} nor the exception column "
            f"{columns.exception!r} (header: {named}); name them: --column status=NAME or "
            "--column exception=NAME",
            path=path,
        )
    return header
