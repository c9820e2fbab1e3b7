"""Verify, diff and plan rollbacks from bundles: prove a release's contract, then restore all of it.

A rollback that restores the code but leaves a new prompt template, parser or endpoint override in
place is partial. `verify_bundle` proves a bundle complete and free of secrets before anyone relies
on it, `diff_bundles` names what changed between two releases, and `plan_rollback` says what a
rollback must restore and, given the deployed state, whether it restored all of it.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.errors import StoreError
from workbench.core.locations import confined
from workbench.core.models import Outcome
from workbench.core.references import IMPORT_REF, VARIABLE_NAME
from workbench.core.secrets import scan_text
from workbench.rollback.bundle import KINDS, PARTS, Bundle, file_sha256, find_source

if TYPE_CHECKING:
    from workbench.history.protocol import Store as HistoryStore

_KIND_ORDER = ("artifact", "configuration", "templates", "parser")
_TITLES: Mapping[str, str] = {
    "client": "client",
    "endpoint": "endpoint",
    "secret_reference": "secret reference",
    "request_template": "request template",
    "prompt_template": "prompt template",
    "parser": "parser",
    "timeouts": "timeouts",
    "feature_flags": "feature flags",
    "token_budget": "token budget",
    "observability": "observability labels",
    "known_good": "known-good probe result",
    "operator_notes": "operator notes",
}
_UNSET = object()


@dataclass(frozen=True)
class Check:
    """One verify result; `message` says what to do when not ok."""

    part: str
    ok: bool
    message: str


@dataclass(frozen=True)
class PartChange:
    """One part that differs between two bundles, with a one-line summary."""

    part: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    summary: str

    @property
    def kind(self) -> str:
        return KINDS.get(self.part, "evidence")


@dataclass(frozen=True)
class RollbackPlan:
    """What a rollback from `current` to `target` must restore, and, given the deployed state, what it did.

    `states` maps each part the deployed state was checked for to "restored", "still new" or
    "unknown"; it is empty when no state bundle was given (then `partial` is False: unknown).
    """

    env: str
    current: str
    target: str
    restore: list[PartChange]
    warnings: list[str]
    states: Mapping[str, str] = field(default_factory=dict)
    state: str | None = None
    known_good: Mapping[str, Any] | None = None
    operator_notes: str | None = None

    @property
    def partial(self) -> bool:
        """True when a rollback attempt left any part at the new release, or at neither release."""
        return any(status != "restored" for status in self.states.values())

    def by_kind(self) -> dict[str, list[PartChange]]:
        grouped: dict[str, list[PartChange]] = {}
        for change in self.restore:
            grouped.setdefault(change.kind, []).append(change)
        return grouped

    def lines(self) -> list[str]:
        """The plan as text an operator reads top to bottom."""
        out = [f"Rollback of {self.env}: {self.current} -> {self.target}"]
        if not self.restore:
            out.append(f"Nothing to restore: {self.current} and {self.target} record the same contract.")
        else:
            out.append(f"Restore {len(self.restore)} part(s) to {self.target}'s value:")
            for kind, changes in self.by_kind().items():
                out.append(f"  {kind}:")
                out.extend(f"    {change.summary}" for change in changes)
        if self.state is not None:
            verdict = "PARTIAL rollback" if self.partial else "fully restored"
            out.append(f"Deployed state ({self.state}): {verdict}")
            for status in ("restored", "still new", "unknown"):
                parts = [part for part, value in self.states.items() if value == status]
                if parts:
                    out.append(f"  {status}: {', '.join(parts)}")
        if self.warnings:
            out.append("Warnings:")
            out.extend(f"  ! {warning}" for warning in self.warnings)
        if self.known_good and not self.known_good.get("missing"):
            out.append(
                f"After restoring, re-run the contract probe (`workbench audit --env {self.env}`) and "
                f"compare structure, not text, with {self.target}'s known-good run "
                f"{self.known_good.get('run_id')}."
            )
        if self.operator_notes:
            out.append(f"Operator notes ({self.target}): {self.operator_notes}")
        return out


# ----------------------------------------------------------------------------------------- verify


def verify_bundle(
    bundle: Bundle,
    *,
    secrets: dict[str, str],
    store: HistoryStore | None = None,
    root: Path | None = None,
    project: Path | None = None,
) -> list[Check]:
    """One check per part (present, resolvable, no secret), then a scan of the bundle file itself.

    Files resolve against `root`, else the recorded manifest's folder in project folder `project`
    (`Bundle.manifest_folder`), never the shell's folder. A hash that differs from the file here is
    ok: a bundle of an older release is expected to differ. So is a known-good run absent from
    `store`: a bundle is often verified (in CI) away from where it was captured.
    """
    if root is None:
        root = bundle.manifest_folder(project or Path())
    checks = [_verify_part(bundle, part, root, store, secrets) for part in PARTS]
    checks.append(_verify_text(bundle, secrets))
    return checks


def _verify_part(
    bundle: Bundle, part: str, root: Path, store: HistoryStore | None, secrets: dict[str, str]
) -> Check:
    value = bundle.parts.get(part)
    if value is None:
        return Check(part, False, f"absent from {bundle.label}: capture release {bundle.release} again")
    if value.get("missing"):
        return Check(part, False, f"missing: {value.get('hint') or 'capture it with a manifest'}")
    findings = scan_text(json.dumps(value), where=bundle.label, secrets=secrets)
    if findings:
        return Check(
            part,
            False,
            f"holds a secret ({findings[0].kind}, {findings[0].masked}): remove it from the bundle, record "
            "only the variable's name, and rotate the key",
        )
    try:
        if part in ("request_template", "prompt_template", "feature_flags"):
            return _verify_file(bundle, part, value, root)
        if part == "parser":
            return _verify_parser(bundle, value)
        if part == "client":
            return _verify_client(bundle, value)
        if part == "secret_reference":
            return _verify_secret_reference(value)
        if part == "known_good":
            return _verify_known_good(bundle.env, value, store)
    except (KeyError, TypeError, AttributeError) as exc:
        return Check(part, False, f"malformed ({type(exc).__name__}: {exc}): capture it again")
    return Check(part, True, f"recorded: {describe_part(part, value)}")


def _verify_file(bundle: Bundle, part: str, value: Mapping[str, Any], root: Path) -> Check:
    if "inline" in value:
        return Check(part, True, "recorded inline (the workbench config's app_request)")
    name = value.get("file")
    if name is None:
        return Check(part, True, f"inline values only: {_short(value.get('values'))}")
    path = confined(root, str(name))
    if path is None:
        return Check(
            part,
            False,
            f"{name!r} is not in the manifest's folder {root}: a bundle names files relative to it (no "
            "'../', absolute path or link out of it); capture it again",
        )
    if not path.is_file():
        return Check(
            part,
            False,
            f"{path} not found: restore it from release {bundle.release} (paths are relative to the "
            "manifest's folder; check --project-dir)",
        )
    recorded, here = str(value["sha256"]), file_sha256(path)
    if recorded != here:
        return Check(
            part,
            True,
            f"{name}: sha256 {recorded[:8]} recorded, {here[:8]} here: this checkout is not at release "
            f"{bundle.release} (expected for an older release; a rollback restores {bundle.release}'s file)",
        )
    return Check(part, True, f"{name} matches (sha256 {recorded[:8]})")


def _verify_parser(bundle: Bundle, value: Mapping[str, Any]) -> Check:
    """The parser by the digest of the file the bundle recorded, found on this Python's path: never
    imported, never resolved as a module (verifying an edited bundle must run none of its code)."""
    ref, relative, recorded = str(value["ref"]), value.get("file"), value.get("sha256")
    if not IMPORT_REF.match(ref):
        return Check("parser", False, f"{ref!r} is not a 'package.module:function' ref: capture it again")
    if not isinstance(relative, str) or not isinstance(recorded, str):
        return Check("parser", True, f"{ref} recorded (its source file was not hashable: nothing to compare)")
    source = find_source(relative)
    if source is None:
        return Check(
            "parser",
            False,
            f"{ref}: its file {relative!r} is not on this Python's path: install release "
            f"{bundle.release}'s parser (checked by its sha256, never imported)",
        )
    here = file_sha256(source)
    if here != recorded:
        return Check(
            "parser",
            True,
            f"{ref}: {relative}: sha256 {recorded[:8]} recorded, {here[:8]} here: this checkout is not at "
            f"release {bundle.release}",
        )
    return Check("parser", True, f"{ref}: {relative} matches (sha256 {here[:8]}; not imported)")


def _verify_client(bundle: Bundle, value: Mapping[str, Any]) -> Check:
    package, version = str(value["package"]), str(value["version"])
    try:
        installed = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return Check("client", True, f"{package} {version} recorded (not installed here, not checked)")
    if installed != version:
        return Check(
            "client",
            True,
            f"{package} {version} recorded, {installed} installed here: this environment is not at "
            f"release {bundle.release}",
        )
    return Check("client", True, f"{package} {version} (installed here)")


def _verify_secret_reference(value: Mapping[str, Any]) -> Check:
    name = value.get("api_key_env")
    if name is None:
        return Check("secret_reference", True, "no key variable (an embedded endpoint)")
    if not isinstance(name, str) or not VARIABLE_NAME.match(name):
        return Check(
            "secret_reference",
            False,
            "api_key_env is not a variable name: record the NAME of the key's variable, never a key",
        )
    return Check("secret_reference", True, f"key read from ${name} (the value is never recorded)")


KNOWN_GOOD_VERDICTS = ("ready", "needs_operator")  # contract verdicts a known-good run may carry


def _verify_known_good(env: str, value: Mapping[str, Any], store: HistoryStore | None) -> Check:
    """A known-good run is complete and its contract passes: waiting for an operator is fine (what
    an operator confirms is not the release's), a failing or partial run never is."""
    run_id = str(value["run_id"])
    summary = value.get("summary")
    counts = ", ".join(f"{n} {k}" for k, n in summary.items()) if isinstance(summary, Mapping) else "?"
    described = f"run {run_id} ({value.get('verdict')}: {counts})"
    failed = isinstance(summary, Mapping) and any(summary.get(k) for k in ("fail", "error"))
    if value.get("verdict") not in KNOWN_GOOD_VERDICTS or failed:
        return Check("known_good", False, f"{described} is not known-good: {_recapture(env)}")
    if store is None:
        return Check("known_good", True, f"{described}; not looked up (no store given)")
    try:
        found = store.runs(run_ids=[run_id])
        bad = found and store.results([run_id], envs=[env])
    except StoreError as exc:
        return Check("known_good", False, f"{described}; cannot look it up: {exc}")
    if not found:  # a bundle is often verified elsewhere (CI) than where it was captured
        return Check(
            "known_good",
            True,
            f"run {run_id} is not in this store, {store.display_url} (the bundle was captured elsewhere); "
            f"its summary is recorded in the bundle: {value.get('verdict')}: {counts}",
        )
    run = found[0]
    failing = [r.probe for r in bad or () if r.outcome in (Outcome.FAIL, Outcome.ERROR)]
    if run.status != "complete" or not run.complete or failing:
        why = (
            f"{', '.join(failing)} failed in it"
            if failing
            else "it is partial (a --probe selection)"
            if not run.complete
            else f"it did not finish ({run.status})"
        )
        return Check(
            "known_good",
            False,
            f"run {run_id} in {store.display_url} is not known-good: {why}; " + _recapture(env),
        )
    return Check("known_good", True, f"{described}, found in {store.display_url}")


def _recapture(env: str) -> str:
    return (
        "only a complete run whose contract probes all pass is; capture the bundle again after "
        f"`workbench audit --env {env}` passes"
    )


def _verify_text(bundle: Bundle, secrets: dict[str, str]) -> Check:
    """The file as it is on disk: a hand-edited key anywhere in it, even outside the parts, fails."""
    text, where = bundle.to_json(), bundle.label
    if bundle.path is not None:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text, where = bundle.path.read_text(encoding="utf-8"), str(bundle.path)
    findings = scan_text(text, where=where, secrets=secrets)
    if findings:
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        return Check(
            "bundle",
            False,
            f"{findings[0]}{more}: remove the secret from the bundle, rotate the key, and capture again",
        )
    return Check("bundle", True, f"no secret value in {where}")


# --------------------------------------------------------------------------------- diff and plan


def diff_bundles(a: Bundle, b: Bundle) -> list[PartChange]:
    """The parts that differ from `a` to `b`, each with a one-line summary (captured_at is ignored)."""
    names = [*PARTS, *sorted((set(a.parts) | set(b.parts)) - set(PARTS))]
    changes = []
    for part in names:
        before, after = a.parts.get(part), b.parts.get(part)
        if _canonical(before) != _canonical(after):
            changes.append(PartChange(part, before, after, f"{part}: {_summary(part, before, after)}"))
    return changes


def plan_rollback(current: Bundle, target: Bundle, *, state: Bundle | None = None) -> RollbackPlan:
    """Restore every part that differs, artifact first; with `state` (deployed now), find what was not."""
    restorable = [change for change in diff_bundles(current, target) if change.part in KINDS]
    restore = sorted(restorable, key=lambda c: (_KIND_ORDER.index(c.kind), PARTS.index(c.part)))
    warnings: list[str] = []
    for other, role in ((target, "target"), (state, "deployed state")):
        if other is not None and other.env != current.env:
            warnings.append(
                f"the {role} {other.label} is of another environment than {current.label}: "
                "compare bundles of one environment"
            )
    left_behind = [_TITLES[c.part] for c in restore if c.part != "client"]
    if left_behind:
        warnings.append(
            f"restoring the deployable artifact alone would leave {_join(left_behind)} at "
            f"{current.release} (a partial rollback): restore the whole integration contract, "
            "not only the deployable artifact"
        )
    for change in restore:
        if change.after is None or change.after.get("missing"):
            warnings.append(
                f"{target.release} did not record its {_TITLES[change.part]}: it cannot be restored from "
                "this bundle; find it in the release system"
            )
    states: dict[str, str] = {}
    if state is not None:
        states = _states(current, target, state, warnings)
    known_good = target.parts.get("known_good")
    if known_good is None or known_good.get("missing"):
        warnings.append(
            f"{target.release} has no known-good probe result: its contract was never proven "
            f"(run `workbench audit --env {target.env}` on it before relying on the rollback)"
        )
    notes = target.parts.get("operator_notes", {}).get("text")
    return RollbackPlan(
        env=current.env,
        current=current.release,
        target=target.release,
        restore=restore,
        warnings=warnings,
        states=states,
        state=state.label if state is not None else None,
        known_good=known_good,
        operator_notes=notes if isinstance(notes, str) else None,
    )


def _states(current: Bundle, target: Bundle, state: Bundle, warnings: list[str]) -> dict[str, str]:
    """restored / still new / unknown for every restorable part where the deployed state matters."""
    states: dict[str, str] = {}
    for part in KINDS:
        now, old, new = (_canonical(b.parts.get(part)) for b in (state, target, current))
        if now == old and old == new:
            continue
        if now == old:
            states[part] = "restored"
            continue
        title, deployed = _TITLES[part], describe_part(part, state.parts.get(part))
        wanted = describe_part(part, target.parts.get(part))
        if now == new:
            states[part] = "still new"
            warnings.append(
                f"{title} still at {current.release} ({deployed}): "
                f"restore it to {target.release}'s ({wanted})"
            )
        else:
            states[part] = "unknown"
            warnings.append(
                f"{title} matches neither {current.release} nor {target.release} ({deployed}): "
                f"restore it to {target.release}'s ({wanted})"
            )
    not_restored = [_TITLES[part] for part, status in states.items() if status != "restored"]
    if not_restored:
        warnings.append(
            f"partial rollback: {_join(not_restored)} not restored to {target.release}; a rollback is "
            "incomplete if it restores old code while leaving a new prompt template, parser, or endpoint "
            "override in place"
        )
    return states


# ---------------------------------------------------------------------------------------- helpers


def _summary(part: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str:
    if before is None or after is None or before.get("missing") or after.get("missing"):
        return f"{describe_part(part, before)} -> {describe_part(part, after)}"
    if part == "client":
        if before.get("package") == after.get("package"):
            return f"{before.get('package')} {before.get('version')} -> {after.get('version')}"
        return f"{describe_part(part, before)} -> {describe_part(part, after)}"
    old, new = _flatten(before), _flatten(after)
    changed = [
        f"{key} {_value(key, old.get(key, _UNSET))} -> {_value(key, new.get(key, _UNSET))}"
        for key in dict.fromkeys([*old, *new])
        if old.get(key, _UNSET) != new.get(key, _UNSET)
    ]
    return "; ".join(changed)


def describe_part(part: str, value: Mapping[str, Any] | None) -> str:
    """A part in a few words, for summaries and warnings."""
    if value is None:
        return "absent"
    if value.get("missing"):
        return "missing"
    if part == "client":
        return f"{value.get('package')} {value.get('version')}"
    if part == "endpoint":
        return f"{value.get('base_url')}{value.get('path')} model {value.get('model')}"
    if part == "parser":
        return f"{value.get('ref')}, sha256 {str(value.get('sha256'))[:8]}"
    if part == "known_good":
        return f"run {value.get('run_id')} ({value.get('verdict')})"
    if isinstance(value.get("sha256"), str):
        return f"sha256 {value['sha256'][:8]}"
    return _short(value)


def _flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            flat.update(_flatten(item, f"{name}."))
        else:
            flat[name] = item
    return flat


def _value(key: str, value: Any) -> str:
    if value is _UNSET:
        return "unset"
    if key.endswith("sha256") and isinstance(value, str):
        return value[:8]
    if isinstance(value, str):
        return value
    return _short(value)


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _canonical(value: Mapping[str, Any] | None) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _join(names: Iterable[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
