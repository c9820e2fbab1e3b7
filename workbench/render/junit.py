"""`--junit FILE`: probe results (and readiness steps) as JUnit XML for CI systems.

One `<testsuite>` per environment, one `<testcase classname="ENV" name="PROBE">` per result:
`fail` is a `<failure>` typed by its symptom class, `error` an `<error>`, `skip` and
`needs_operator` a `<skipped>`. For `audit`, each of the ten readiness steps is a testcase too
(`name="readiness: 5. Verify parser compatibility"`), failing unless it passes. The layout follows
the common JUnit schema (Jenkins' junit-10.xsd, which GitLab, GitHub reporters and Surefire read):
counts `tests`, `failures`, `errors` and `skipped` on each testsuite, `tests`, `failures` and
`errors` on the root (that schema allows no `skipped` there).

The file holds results only. ElementTree escapes markup; characters XML 1.0 cannot carry at all
(NUL, ESC, ... a hostile endpoint can put them in a body we quote) become U+FFFD, and the value of
every configured key variable is redacted should a response ever have echoed one.
"""

from __future__ import annotations

import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core import clock
from workbench.core.errors import UsageError
from workbench.core.files import write_atomic
from workbench.core.models import Outcome, ProbeResult, Symptom
from workbench.core.redaction import Redactor
from workbench.rollback.headline import Headline, headlines, status_words
from workbench.rollback.readiness import Readiness, StepStatus

if TYPE_CHECKING:
    from workbench.core.config import Config
    from workbench.probes.engine import RunSummary

# Everything outside XML 1.0's Char production.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MESSAGE_CHARS = 300  # the one-line `message` attribute; the element text carries everything


@dataclass(frozen=True, slots=True)
class JunitFile:
    """A verb's `--junit FILE` (or none): checked before the run spends any time, written after it."""

    path: Path | None
    name: str  # the root testsuites' name: the command that ran

    @classmethod
    def prepare(cls, path: Path | None, *, name: str) -> JunitFile:
        """Check `path` is writable now (`UsageError`, exit 2, if not); None: no JUnit file asked for."""
        if path is not None:
            check_junit_path(path)
        return cls(path, name)

    def write_for(
        self,
        summary: RunSummary,
        config: Config,
        *,
        readiness: Mapping[str, Readiness] | None = None,
        complete: bool = True,
    ) -> Path | None:
        """Write the run's results (and readiness steps) under each environment's verdict, no
        configured key in them; the path, or None."""
        if self.path is None:
            return None
        lines = headlines(summary.verdicts, summary.results, readiness, complete=complete)
        return write_junit(
            self.path,
            summary.results,
            environments=summary.environments,
            readiness=readiness,
            verdicts={line.env: line for line in lines},
            name=self.name,
            run_id=summary.run_id,
            secrets=config.key_values(),
        )


def check_junit_path(path: Path) -> None:
    """Create the file's folder and prove it is writable, before a run spends any time.

    Raises `UsageError` (exit 2) naming the path when it cannot be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory")
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".check"):
            pass
    except OSError as exc:
        raise _unwritable(path, exc) from None


def write_junit(
    path: Path,
    results: Sequence[ProbeResult],
    *,
    environments: Sequence[str] = (),
    readiness: Mapping[str, Readiness] | None = None,
    verdicts: Mapping[str, Headline] | None = None,
    name: str = "workbench",
    run_id: str = "",
    secrets: Mapping[str, str] | None = None,
) -> Path:
    """Write the JUnit XML atomically (see `write_atomic`): a CI reader never sees half."""
    root = junit_tree(
        results,
        environments=environments,
        readiness=readiness,
        verdicts=verdicts,
        name=name,
        run_id=run_id,
        secrets=secrets,
    )
    ET.indent(root)
    try:
        write_atomic(path, ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")
    except OSError as exc:
        raise _unwritable(path, exc) from None
    return path


def junit_tree(
    results: Sequence[ProbeResult],
    *,
    environments: Sequence[str] = (),
    readiness: Mapping[str, Readiness] | None = None,
    verdicts: Mapping[str, Headline] | None = None,
    name: str = "workbench",
    run_id: str = "",
    secrets: Mapping[str, str] | None = None,
) -> ET.Element:
    """The `<testsuites>` element: environments in run order, results in run order within each; each
    suite's properties carry its verdict (`verdict`: the JSON value, `verdict_line`: the words)."""
    clean = _Cleaner(secrets or {})
    readiness = readiness or {}
    verdicts = verdicts or {}
    order = list(dict.fromkeys([*environments, *(r.env for r in results), *readiness]))
    root = ET.Element("testsuites", {"name": clean(name)})
    totals = {"tests": 0, "failures": 0, "errors": 0}
    seconds = 0.0
    for env in order:
        suite = _suite(
            env, [r for r in results if r.env == env], readiness.get(env), verdicts.get(env), run_id, clean
        )
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        seconds += float(suite.get("time", "0"))
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", str(totals["errors"]))
    root.set("time", _seconds(seconds))
    return root


def _suite(
    env: str,
    results: Sequence[ProbeResult],
    readiness: Readiness | None,
    verdict: Headline | None,
    run_id: str,
    clean: _Cleaner,
) -> ET.Element:
    suite = ET.Element("testsuite", {"name": clean(env)})
    named = {"run_id": run_id}
    if verdict is not None:
        named |= {"verdict": str(verdict.state), "verdict_line": verdict.line()}
    if any(named.values()):
        properties = ET.SubElement(suite, "properties")
        for property_name, text in named.items():
            if text:
                ET.SubElement(properties, "property", {"name": property_name, "value": clean(text)})
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    seconds = 0.0
    for result in results:
        case = _result_case(result, clean)
        suite.append(case)
        counts["tests"] += 1
        seconds += float(case.get("time", "0"))
        for child, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            if case.find(child) is not None:
                counts[key] += 1
    for step in readiness.steps if readiness else ():
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": clean(env), "name": clean(f"readiness: {step.number}. {step.title}"), "time": "0"},
        )
        counts["tests"] += 1
        if step.status is not StepStatus.PASS:
            counts["failures"] += 1
            failure = ET.SubElement(
                case,
                "failure",
                {
                    "type": str(step.status),
                    "message": clean.line(f"{status_words(step.status)}: {step.evidence}"),
                },
            )
            failure.text = clean(f"{status_words(step.status)}: {step.evidence}")
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", _seconds(seconds))
    started = sorted(stamp for stamp in (_timestamp(r.started_at) for r in results) if stamp)
    if started:
        suite.set("timestamp", started[0])
    return suite


def _result_case(result: ProbeResult, clean: _Cleaner) -> ET.Element:
    seconds = (result.latency_ms or 0.0) / 1000
    case = ET.Element(
        "testcase", {"classname": clean(result.env), "name": clean(result.probe), "time": _seconds(seconds)}
    )
    symptom = str(result.symptom)
    if result.outcome is Outcome.FAIL:
        failure = ET.SubElement(case, "failure", {"type": symptom, "message": clean.line(result.detail)})
        failure.text = clean(_body(result))
    elif result.outcome is Outcome.ERROR:
        kind = "error" if result.symptom is Symptom.NONE else symptom
        error = ET.SubElement(case, "error", {"type": kind, "message": clean.line(result.detail)})
        error.text = clean(_body(result))
    elif result.outcome in (Outcome.SKIP, Outcome.NEEDS_OPERATOR):
        label = "needs operator" if result.outcome is Outcome.NEEDS_OPERATOR else "skipped"
        ET.SubElement(case, "skipped", {"message": clean.line(f"{label}: {result.detail}")})
    return case


def _body(result: ProbeResult) -> str:
    facts = [f"symptom: {result.symptom} ({'retryable' if result.retryable else 'not retryable'})"]
    if result.http_status is not None:
        facts.append(f"HTTP {result.http_status}")
    if result.latency_ms is not None:
        facts.append(f"{result.latency_ms:.0f} ms")
    lines = [result.detail, "; ".join(facts)]
    if result.action:
        lines.append(f"action: {result.action}")
    return "\n".join(lines)


class _Cleaner:
    """Text that XML 1.0 can carry and that holds no configured key value, in any of its forms.

    Results are redacted when made; this catches what an older version stored before it was.
    """

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self._redact = Redactor.for_keys(secrets)

    def __call__(self, text: str) -> str:
        return _NOT_XML.sub("\ufffd", self._redact(text))

    def line(self, text: str) -> str:
        """One line for a `message` attribute, shortened (after redaction: no key's first half)."""
        return self._redact.cut(" ".join(self(text).split()), _MESSAGE_CHARS)


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def _timestamp(iso: str) -> str:
    """ISO 8601 without zone or fraction (what JUnit readers parse); the workbench's times are UTC."""
    try:
        moment = clock.parse_iso(iso)
    except ValueError:
        return ""  # not a time: leave the attribute out
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _unwritable(path: Path, exc: OSError) -> UsageError:
    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, FileExistsError | NotADirectoryError):
        reason = "part of its folder path is a file, not a folder"
    return UsageError(f"--junit {path}: cannot write the JUnit file there: {reason}; pass a writable path")
