"""Rollback bundles on real files: capture, refuse secrets, verify, diff, and plan (partial) rollbacks."""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.canary import canary_key
from tests.paths import DATA, REPO
from workbench import ConfigError, HistoryStore, UsageError, default_config, deployed_bundle, run_probes
from workbench.core.config import Config, parse_config
from workbench.core.errors import StoreError
from workbench.core.secrets import scan_paths
from workbench.rollback.bundle import PARTS, Bundle, SecretInBundle, resolve_bundle
from workbench.rollback.manifest import capture_bundle
from workbench.rollback.plan import diff_bundles, plan_rollback, verify_bundle

BUNDLES = DATA / "bundles"
PARSER_MODULE = "wb_support_parser"
EMBEDDED = '[workbench]\nproject = "bundles"\n\n[environments.ref]\nbase_url = "embedded"\n'
# the same environment at the new release: an endpoint override through a gateway
OVERRIDDEN = (
    '[environments.ref]\nbase_url = "https://gateway.example.test/openai"\n'
    'model = "approved-model"\napi_key_env = "COMETAPI_API_KEY"\n'
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def by_part(checks: list) -> dict:
    return {check.part: check for check in checks}


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HistoryStore, str]]:
    """A store holding one real, passing run of the embedded environment `ref`."""
    folder = tmp_path_factory.mktemp("store")
    store = HistoryStore(f"sqlite:///{folder}/h.sqlite", project_name="bundles")
    summary = run_probes(parse_config(EMBEDDED, source=None), store=store)
    assert summary.exit_code == 0
    yield store, summary.run_id
    store.close()


@pytest.fixture
def store(probed: tuple[HistoryStore, str]) -> HistoryStore:
    return probed[0]


@pytest.fixture
def config() -> Config:
    return parse_config(EMBEDDED, source=None)


@pytest.fixture
def integration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the test integration (manifest, templates, flags, parser module), importable."""
    folder = tmp_path / "integration"
    shutil.copytree(BUNDLES / "integration", folder)
    monkeypatch.delitem(sys.modules, PARSER_MODULE, raising=False)
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    sys.modules.pop(PARSER_MODULE, None)


def capture(config: Config, release: str, manifest: Path | None, store: HistoryStore, tmp_path: Path, **kw):
    return capture_bundle(
        config, "ref", release, manifest=manifest, store=store, bundles_dir=tmp_path / "bundles", **kw
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


# ----------------------------------------------------------------------------------------- capture


def test_capture_with_a_manifest_records_every_part(
    config: Config, probed: tuple[HistoryStore, str], integration: Path, tmp_path: Path
) -> None:
    store, run_id = probed
    bundle = capture(config, "r42", integration / "manifest.toml", store, tmp_path)

    assert bundle.path == tmp_path / "bundles" / "ref" / "r42.json"
    data = json.loads(bundle.path.read_text())
    assert data["format"] == "contract-workbench-bundle/1"
    assert (data["env"], data["release"]) == ("ref", "r42")
    assert data["captured_at"].endswith("Z")
    assert data["manifest"].endswith("integration/manifest.toml")
    parts = data["parts"]
    assert tuple(parts) == PARTS
    assert not [name for name, part in parts.items() if part.get("missing")]
    assert parts["client"] == {"package": "openai", "version": "1.40.0"}
    assert parts["endpoint"] == {
        "base_url": "embedded",
        "path": "/v1/chat/completions",
        "model": "wb-reference-1",
    }
    assert parts["secret_reference"] == {"api_key_env": None}
    assert parts["request_template"] == {
        "file": "templates/request.json",
        "sha256": sha256(integration / "templates" / "request.json"),
    }
    assert parts["prompt_template"] == {
        "file": "templates/system_prompt.txt",
        "sha256": sha256(integration / "templates" / "system_prompt.txt"),
    }
    assert parts["parser"] == {
        "ref": "wb_support_parser:parse_reply",
        "file": "wb_support_parser.py",
        "sha256": sha256(integration / "wb_support_parser.py"),
        "version": None,
    }
    assert parts["timeouts"] == {"timeout_s": 30, "max_retries": 2, "backoff": "exponential"}
    assert parts["feature_flags"] == {
        "file": "flags.json",
        "sha256": sha256(integration / "flags.json"),
        "values": {"streaming": False, "routing": "v2"},
    }
    assert parts["token_budget"] == {"max_tokens": 512}
    assert parts["observability"] == {"labels": {"service": "chat", "integration": "cometapi"}}
    assert parts["known_good"]["run_id"] == run_id
    assert parts["known_good"]["verdict"] == "ready"
    outcomes = Counter(str(result.outcome) for result in store.results([run_id]))
    assert parts["known_good"]["summary"] == dict(outcomes) and outcomes["pass"] >= 8
    assert parts["operator_notes"] == {"text": "Check the CometAPI dashboard token limit before rollback."}

    loaded = Bundle.load(bundle.path)
    assert loaded.parts == bundle.parts and loaded.to_json() == bundle.path.read_text()
    checks = verify_bundle(loaded, secrets={}, store=store)
    assert [check.part for check in checks] == [*PARTS, "bundle"]
    assert all(check.ok for check in checks), [c for c in checks if not c.ok]
    assert "matches" in by_part(checks)["prompt_template"].message


def test_a_client_without_version_is_read_from_the_installed_package(
    config: Config, store: HistoryStore, integration: Path, tmp_path: Path
) -> None:
    import importlib.metadata

    edit(integration / "manifest.toml", 'package = "openai"\nversion = "1.40.0"', 'package = "httpx"')
    bundle = capture(config, "r42", integration / "manifest.toml", store, tmp_path)
    assert bundle.parts["client"] == {"package": "httpx", "version": importlib.metadata.version("httpx")}


def test_a_parser_in_a_distribution_records_its_source_file_and_version(
    config: Config, store: HistoryStore, integration: Path, tmp_path: Path
) -> None:
    edit(integration / "manifest.toml", "wb_support_parser:parse_reply", "workbench:reference_parser")
    parser = capture(config, "r42", integration / "manifest.toml", store, tmp_path).parts["parser"]
    assert parser["file"] == "workbench/wire/parser.py"  # where the function is defined, not the re-export
    assert parser["sha256"] == sha256(REPO / "workbench" / "wire" / "parser.py")
    assert parser["version"] == "contract-workbench 0.1.0"


def test_without_a_manifest_only_what_the_config_knows_is_recorded_and_verify_fails(
    store: HistoryStore, tmp_path: Path
) -> None:
    config = parse_config(
        '[environments.ref]\nbase_url = "embedded"\ntimeout_s = 12\nmax_tokens = 64\n'
        "[environments.ref.app_request]\ntemperature = 0.2\n",
        source=None,
    )
    bundle = capture(config, "r41", None, store, tmp_path)
    parts = bundle.parts
    assert json.loads(bundle.path.read_text())["manifest"] is None
    assert parts["endpoint"]["base_url"] == "embedded"
    assert parts["secret_reference"] == {"api_key_env": None}
    assert parts["timeouts"] == {"timeout_s": 12.0}
    assert parts["token_budget"] == {"max_tokens": 64}
    assert parts["request_template"]["inline"] == {"temperature": 0.2}
    assert parts["parser"]["ref"] == "workbench:reference_parser"
    assert parts["known_good"]["verdict"] == "ready"
    missing = {"client", "prompt_template", "feature_flags", "observability", "operator_notes"}
    assert {name for name, part in parts.items() if part.get("missing")} == missing
    assert "write a manifest with [client] package" in parts["client"]["hint"]

    failed = {check.part: check.message for check in verify_bundle(bundle, secrets={}) if not check.ok}
    assert set(failed) == missing
    assert "[request] prompt_template" in failed["prompt_template"]


def test_known_good_is_missing_when_the_store_has_no_passing_run(
    config: Config, integration: Path, tmp_path: Path
) -> None:
    with HistoryStore(f"sqlite:///{tmp_path}/empty.sqlite") as empty:
        bundle = capture(config, "r42", integration / "manifest.toml", empty, tmp_path)
        assert bundle.parts["known_good"] == {
            "missing": True,
            "hint": "no complete passing run of ref (a --probe selection never counts): "
            "run `workbench audit --env ref` until it passes",
        }
        failed = [check for check in verify_bundle(bundle, secrets={}, store=empty) if not check.ok]
    assert [check.part for check in failed] == ["known_good"]
    assert "workbench audit --env ref" in failed[0].message


def _with_known_good(bundle: Bundle, **known_good: object) -> Bundle:
    """The bundle as a hand edit (or an older workbench) left it: its known-good part replaced."""
    assert bundle.path is not None
    data = json.loads(bundle.path.read_text())
    data["parts"]["known_good"] |= known_good
    bundle.path.write_text(json.dumps(data))
    return Bundle.load(bundle.path)


@pytest.mark.parametrize(
    "known_good",
    [{"verdict": "not_ready"}, {"verdict": "could_not_run"}, {"summary": {"pass": 9, "fail": 1}}],
    ids=["failing", "could-not-run", "a-failure-in-its-summary"],
)
def test_verify_refuses_a_known_good_run_that_failed(
    config: Config, store: HistoryStore, integration: Path, tmp_path: Path, known_good: dict[str, object]
) -> None:
    """Issue 22: verify accepted any run as known-good, whatever its verdict."""
    bundle = _with_known_good(
        capture(config, "r42", integration / "manifest.toml", store, tmp_path), **known_good
    )
    failed = {
        check.part: check.message for check in verify_bundle(bundle, secrets={}, store=store) if not check.ok
    }
    assert list(failed) == ["known_good"]
    assert "is not known-good" in failed["known_good"] and "workbench audit --env ref" in failed["known_good"]


def test_verify_refuses_a_partial_run_as_known_good(
    config: Config, store: HistoryStore, integration: Path, tmp_path: Path
) -> None:
    partial = run_probes(config, probe_ids=["endpoint.minimal"], store=store)
    assert partial.exit_code == 0  # it passed, but a --probe selection is never a baseline
    bundle = capture(config, "r42", integration / "manifest.toml", store, tmp_path)
    assert bundle.parts["known_good"]["run_id"] != partial.run_id  # capture never picks it
    bundle = _with_known_good(bundle, run_id=partial.run_id)
    failed = {
        check.part: check.message for check in verify_bundle(bundle, secrets={}, store=store) if not check.ok
    }
    assert list(failed) == ["known_good"] and "it is partial" in failed["known_good"]


def test_verify_accepts_a_known_good_run_waiting_for_an_operator(
    config: Config, store: HistoryStore, integration: Path, tmp_path: Path
) -> None:
    """What only an operator confirms (quota, billing) is not the release's: such a run is known-good."""
    bundle = capture(config, "r42", integration / "manifest.toml", store, tmp_path)
    bundle = _with_known_good(bundle, verdict="needs_operator", summary={"pass": 9, "needs_operator": 1})
    assert by_part(verify_bundle(bundle, secrets={}, store=store))["known_good"].ok


# (manifest file, the key the error names, a fragment of the message)
MALFORMED = [
    ("bad_toml.toml", None, "malformed TOML at line 3"),
    ("unknown_table.toml", "retries", "unknown table"),
    ("unknown_key.toml", "client.channel", "unknown key"),
    ("table_written_as_key.toml", "client", "must be a table"),
    ("missing_file.toml", "request.prompt_template", "file not found"),
    ("wrong_type_package.toml", "client.package", "must be a non-empty string, got an integer"),
    ("wrong_type_timeout.toml", "timeouts.max_retries", "got an array"),
    ("wrong_type_label.toml", "observability.labels.shard", "must be a string"),
    ("empty_note.toml", "notes.operator", "non-empty string"),
    ("unknown_package.toml", "client.package", 'set client.version = "X.Y.Z"'),
    ("unimportable_parser.toml", "parser.ref", "cannot import module 'wb_no_such_module'"),
    ("parser_without_function.toml", "parser.ref", "has no function 'no_such_parser'"),
    ("parser_ref_malformed.toml", "parser.ref", "must look like 'package.module:function'"),
]


@pytest.mark.parametrize(
    ("name", "key", "fragment"), MALFORMED, ids=[m[0].removesuffix(".toml") for m in MALFORMED]
)
def test_a_malformed_manifest_names_the_file_and_the_key(
    config: Config, store: HistoryStore, tmp_path: Path, name: str, key: str | None, fragment: str
) -> None:
    manifest = tmp_path / "manifest.toml"
    shutil.copy(BUNDLES / "manifests" / name, manifest)
    with pytest.raises(ConfigError) as caught:
        capture(config, "r42", manifest, store, tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{manifest}: "), message
    assert caught.value.field == key
    assert fragment in message
    assert "\n" not in message
    assert not (tmp_path / "bundles").exists()


def test_a_missing_manifest_is_a_config_error(config: Config, store: HistoryStore, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="manifest not found"):
        capture(config, "r42", tmp_path / "nowhere.toml", store, tmp_path)


# ----------------------------------------------------------------------------------------- secrets


def _secret_in_prompt(folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str]:
    secret = canary_key("bundle")
    with (folder / "templates" / "system_prompt.txt").open("a") as handle:
        handle.write(f"Use the key {secret} for lookups.\n")
    return secret, "prompt_template", "system_prompt.txt"


def _key_value_in_notes(folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str]:
    secret = secrets.token_urlsafe(24)  # no known format: only the variable's value gives it away
    monkeypatch.setenv("COMETAPI_API_KEY", secret)
    edit(folder / "manifest.toml", "before rollback.", f"before rollback (key {secret}).")
    return secret, "operator_notes", "manifest.toml"


def _bearer_in_flags(folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str]:
    secret = "Bearer " + secrets.token_hex(20)
    edit(folder / "manifest.toml", 'routing = "v2"', f'routing = "v2"\nauth = "{secret}"')
    return secret.split()[1], "feature_flags", "manifest.toml"


@pytest.mark.parametrize("plant", [_secret_in_prompt, _key_value_in_notes, _bearer_in_flags])
def test_capture_refuses_a_secret_and_writes_nothing(
    store: HistoryStore, integration: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plant
) -> None:
    # a second environment whose key variable holds the value: every configured environment counts
    config = parse_config(
        EMBEDDED + "\n" + OVERRIDDEN.replace("environments.ref", "environments.prod"), source=None
    )
    secret, part, file_name = plant(integration, monkeypatch)
    with pytest.raises(SecretInBundle) as caught:
        capture(config, "r42", integration / "manifest.toml", store, tmp_path)
    message = str(caught.value)
    assert secret not in message and secret[4:12] not in message
    assert f"part {part!r}" in message and file_name in message
    assert caught.value.exit_code == 1 and caught.value.part == part
    bundles = tmp_path / "bundles"
    assert not bundles.exists() or not [path for path in bundles.rglob("*") if path.is_file()]


def test_a_secret_in_the_inline_request_template_is_refused(store: HistoryStore, tmp_path: Path) -> None:
    secret = canary_key("inline")
    config = parse_config(EMBEDDED + f'[environments.ref.app_request]\nuser = "{secret}"\n', source=None)
    with pytest.raises(SecretInBundle, match="'request_template'") as caught:
        capture(config, "r42", None, store, tmp_path)
    assert secret not in str(caught.value)
    assert not (tmp_path / "bundles" / "ref" / "r42.json").exists()


@pytest.mark.parametrize("kind", ["key variable value", "provider format"])
def test_a_hand_edited_bundle_with_a_key_fails_verify(
    config: Config, store: HistoryStore, integration: Path, tmp_path: Path, kind: str
) -> None:
    bundle = capture(config, "r42", integration / "manifest.toml", store, tmp_path)
    assert all(check.ok for check in verify_bundle(bundle, secrets={}, store=store))
    secret = secrets.token_urlsafe(24) if kind == "key variable value" else canary_key("edited")
    known = {"COMETAPI_API_KEY": secret} if kind == "key variable value" else {}
    data = json.loads(bundle.path.read_text())
    data["parts"]["operator_notes"]["text"] += f" Key: {secret}"
    bundle.path.write_text(json.dumps(data, indent=2))

    checks = verify_bundle(Bundle.load(bundle.path), secrets=known, store=store)
    failed = {check.part: check.message for check in checks if not check.ok}
    assert set(failed) == {"operator_notes", "bundle"}
    assert str(bundle.path) in failed["bundle"] and "rotate the key" in failed["bundle"]
    assert all(secret not in message for message in failed.values())


def test_verify_scans_the_file_itself_even_outside_the_parts(
    config: Config, store: HistoryStore, integration: Path, tmp_path: Path
) -> None:
    bundle = capture(config, "r42", integration / "manifest.toml", store, tmp_path)
    data = json.loads(bundle.path.read_text())
    data["comment"] = "Authorization: Bearer " + secrets.token_hex(24)
    bundle.path.write_text(json.dumps(data, indent=2))
    failed = [check for check in verify_bundle(Bundle.load(bundle.path), secrets={}) if not check.ok]
    assert [check.part for check in failed] == ["bundle"]
    assert "bearer token" in failed[0].message


# ------------------------------------------------------------------------------------------ verify


def test_verify_of_an_older_release_notes_the_checkout_differs(
    config: Config, store: HistoryStore, integration: Path, tmp_path: Path
) -> None:
    r42 = capture(config, "r42", integration / "manifest.toml", store, tmp_path)
    (integration / "templates" / "system_prompt.txt").write_text("You are a terse support assistant.\n")
    edit(integration / "wb_support_parser.py", '["content"]', '.get("content")')

    checks = by_part(verify_bundle(Bundle.load(r42.path), secrets={}, store=store))
    assert all(check.ok for check in checks.values())
    for part in ("prompt_template", "parser"):
        assert "this checkout is not at release r42" in checks[part].message
    assert "matches" in checks["request_template"].message


def test_verify_fails_when_a_file_cannot_be_found_under_root(
    config: Config, store: HistoryStore, integration: Path, tmp_path: Path
) -> None:
    bundle = capture(config, "r42", integration / "manifest.toml", store, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    failed = {c.part: c.message for c in verify_bundle(bundle, secrets={}, root=elsewhere) if not c.ok}
    assert set(failed) == {"request_template", "prompt_template", "feature_flags"}
    assert "paths are relative to the manifest's folder" in failed["prompt_template"]


def test_verify_fails_when_the_parsers_file_is_not_on_the_path(
    config: Config, store: HistoryStore, integration: Path, tmp_path: Path
) -> None:
    bundle = capture(config, "r42", integration / "manifest.toml", store, tmp_path)
    (integration / "wb_support_parser.py").rename(integration / "wb_support_parser_v2.py")
    failed = [c for c in verify_bundle(Bundle.load(bundle.path), secrets={}) if not c.ok]
    assert [c.part for c in failed] == ["parser"]
    assert "'wb_support_parser.py' is not on this Python's path" in failed[0].message


def test_verify_never_imports_the_parser_an_edited_bundle_names(
    config: Config, store: HistoryStore, integration: Path, tmp_path: Path
) -> None:
    # Issue 20: `bundle verify` imported `parser.ref`, so a bundle edited to name a module on the
    # path ran that module's code (and `importlib.util.find_spec("pkg.mod")` runs `pkg/__init__.py`).
    ran = tmp_path / "ran"
    package = integration / "wb_planted"
    package.mkdir()
    (package / "__init__.py").write_text(f"open({str(ran)!r}, 'w').write('package')\n")
    (package / "mod.py").write_text(f"open({str(ran)!r}, 'w').write('module')\ndef parse(body): return ''\n")
    bundle = capture(config, "r42", integration / "manifest.toml", store, tmp_path)
    data = json.loads(bundle.path.read_text())
    data["parts"]["parser"].update(
        ref="wb_planted.mod:parse", file="wb_planted/mod.py", sha256=sha256(package / "mod.py")
    )
    bundle.path.write_text(json.dumps(data))
    checks = by_part(verify_bundle(Bundle.load(bundle.path), secrets={}))
    assert not ran.exists(), ran.read_text()
    assert checks["parser"].ok and "wb_planted/mod.py matches" in checks["parser"].message
    assert "wb_planted" not in sys.modules
    data["parts"]["parser"]["file"] = "../../../etc/passwd"  # not a module path: never looked up
    bundle.path.write_text(json.dumps(data))
    checks = by_part(verify_bundle(Bundle.load(bundle.path), secrets={}))
    assert not checks["parser"].ok and "not on this Python's path" in checks["parser"].message


def test_a_known_good_run_captured_elsewhere_is_ok_when_not_in_the_store(
    config: Config, store: HistoryStore, integration: Path, tmp_path: Path
) -> None:
    # a bundle is often verified in CI, whose store never held the run the bundle was captured with
    bundle = capture(config, "r42", integration / "manifest.toml", store, tmp_path)
    with HistoryStore(f"sqlite:///{tmp_path}/other.sqlite") as other:
        checks = by_part(verify_bundle(bundle, secrets={}, store=other))
    assert all(check.ok for check in checks.values()), [c for c in checks.values() if not c.ok]
    known_good = bundle.parts["known_good"]
    message = checks["known_good"].message
    assert message.startswith(f"run {known_good['run_id']} is not in this store")
    assert "(the bundle was captured elsewhere); its summary is recorded in the bundle" in message
    assert f"ready: {known_good['summary']['pass']} pass" in message


def test_a_known_good_run_fails_when_the_store_cannot_be_read(
    config: Config, store: HistoryStore, integration: Path, tmp_path: Path
) -> None:
    class Unreadable:
        display_url = "sqlite:///unreadable.sqlite"

        def runs(self, **_: object) -> list:
            raise StoreError(f"cannot read the history store {self.display_url}: disk I/O error")

    bundle = capture(config, "r42", integration / "manifest.toml", store, tmp_path)
    failed = [c for c in verify_bundle(bundle, secrets={}, store=Unreadable()) if not c.ok]
    assert [c.part for c in failed] == ["known_good"]
    assert "cannot read the history store" in failed[0].message


# ------------------------------------------------------------------------------------ diff and plan


@pytest.fixture
def releases(store: HistoryStore, integration: Path, tmp_path: Path) -> dict[str, Bundle]:
    """r42 (known good), then r43: new client, prompt template, parser and an endpoint override."""
    manifest = integration / "manifest.toml"
    r42 = capture(parse_config(EMBEDDED, source=None), "r42", manifest, store, tmp_path)
    new_prompt, old_prompt = (
        "You are a concise support assistant.\n",
        _read(integration, "templates/system_prompt.txt"),
    )
    old_parser = _read(integration, "wb_support_parser.py")
    edit(manifest, 'version = "1.40.0"', 'version = "1.52.0"')
    (integration / "templates" / "system_prompt.txt").write_text(new_prompt)
    edit(integration / "wb_support_parser.py", '["content"]', '.get("content")')
    r43 = capture(parse_config(OVERRIDDEN, source=None), "r43", manifest, store, tmp_path)

    # a rollback attempt that restores only the deployable artifact (the client)
    edit(manifest, 'version = "1.52.0"', 'version = "1.40.0"')
    attempt = capture(parse_config(OVERRIDDEN, source=None), "r42-attempt", manifest, store, tmp_path)
    # the full rollback: templates, parser and endpoint too
    (integration / "templates" / "system_prompt.txt").write_text(old_prompt)
    (integration / "wb_support_parser.py").write_text(old_parser)
    restored = capture(parse_config(EMBEDDED, source=None), "r42-restored", manifest, store, tmp_path)
    return {"r42": r42, "r43": r43, "attempt": attempt, "restored": restored}


def _read(folder: Path, name: str) -> str:
    return (folder / name).read_text()


def test_diff_of_two_releases_lists_only_the_changed_parts(releases: dict[str, Bundle]) -> None:
    r42, r43 = releases["r42"], releases["r43"]
    changes = diff_bundles(Bundle.load(r43.path), Bundle.load(r42.path))
    assert [change.part for change in changes] == [
        "client",
        "endpoint",
        "secret_reference",
        "prompt_template",
        "parser",
    ]
    summaries = {change.part: change.summary for change in changes}
    assert summaries["client"] == "client: openai 1.52.0 -> 1.40.0"
    assert summaries["endpoint"] == (
        "endpoint: base_url https://gateway.example.test/openai -> embedded; "
        "model approved-model -> wb-reference-1"
    )
    assert summaries["secret_reference"] == "secret_reference: api_key_env COMETAPI_API_KEY -> null"
    old, new = r42.parts["prompt_template"]["sha256"], r43.parts["prompt_template"]["sha256"]
    assert summaries["prompt_template"] == f"prompt_template: sha256 {new[:8]} -> {old[:8]}"
    assert summaries["parser"].startswith("parser: sha256 ")
    assert changes[0].before == r43.parts["client"] and changes[0].after == r42.parts["client"]
    assert diff_bundles(r42, releases["restored"]) == []  # captured_at differs, nothing else


def test_a_plan_without_state_restores_every_differing_part_and_warns(releases: dict[str, Bundle]) -> None:
    plan = plan_rollback(releases["r43"], releases["r42"])
    assert [(change.kind, change.part) for change in plan.restore] == [
        ("artifact", "client"),
        ("configuration", "endpoint"),
        ("configuration", "secret_reference"),
        ("templates", "prompt_template"),
        ("parser", "parser"),
    ]
    assert list(plan.by_kind()) == ["artifact", "configuration", "templates", "parser"]
    assert not plan.partial and plan.states == {}
    (warning,) = plan.warnings
    assert warning.startswith(
        "restoring the deployable artifact alone would leave endpoint, secret reference, prompt template "
        "and parser at r43 (a partial rollback)"
    )
    assert "not only the deployable artifact" in warning
    text = "\n".join(plan.lines())
    assert "Restore 5 part(s) to r42's value:" in text and "    client: openai 1.52.0 -> 1.40.0" in text
    assert releases["r42"].parts["known_good"]["run_id"] in text
    assert "Operator notes (r42): Check the CometAPI dashboard token limit before rollback." in text


def test_a_state_with_only_the_client_restored_is_a_partial_rollback(releases: dict[str, Bundle]) -> None:
    plan = plan_rollback(releases["r43"], releases["r42"], state=releases["attempt"])
    assert plan.partial
    assert plan.states == {
        "client": "restored",
        "endpoint": "still new",
        "secret_reference": "still new",
        "prompt_template": "still new",
        "parser": "still new",
    }
    prompt_sha = releases["r43"].parts["prompt_template"]["sha256"][:8]
    old_sha = releases["r42"].parts["prompt_template"]["sha256"][:8]
    assert f"prompt template still at r43 (sha256 {prompt_sha}): restore it to r42's (sha256 {old_sha})" in (
        plan.warnings
    )
    assert any(
        w.startswith("endpoint still at r43 (https://gateway.example.test/openai") for w in plan.warnings
    )
    assert any(w.startswith("parser still at r43") for w in plan.warnings)
    assert any(
        w.startswith("partial rollback: endpoint, secret reference, prompt template and parser")
        for w in plan.warnings
    )
    text = "\n".join(plan.lines())
    assert "Deployed state (ref/r42-attempt): PARTIAL rollback" in text
    assert (
        "  restored: client" in text
        and "  still new: endpoint, secret_reference, prompt_template, parser" in text
    )


def test_the_deployed_state_is_a_manifest_resolved_without_writing_or_a_bundle_file(
    config: Config,
    probed: tuple[HistoryStore, str],
    integration: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, run_id = probed
    monkeypatch.chdir(tmp_path)  # the config's bundles folder is data/bundles, relative to here
    from_manifest = deployed_bundle(integration / "manifest.toml", config, "ref", store=store.url)
    assert (from_manifest.env, from_manifest.release) == ("ref", "deployed-now")
    assert from_manifest.parts["known_good"]["run_id"] == run_id  # read from the store given
    assert from_manifest.parts["client"] == {"package": "openai", "version": "1.40.0"}
    assert not (tmp_path / "data").exists()  # nothing written
    captured = capture(config, "r42", integration / "manifest.toml", store, tmp_path)
    nowhere = f"sqlite:///{tmp_path / 'unused' / 'h.sqlite'}"
    from_file = deployed_bundle(captured.path, config, "ref", store=nowhere)
    assert from_file.parts == captured.parts and from_file.release == "r42"
    assert not (tmp_path / "unused").exists()  # a bundle file needs no store: none is opened


def test_a_deployed_state_that_cannot_be_read_is_a_config_error_naming_it(
    config: Config, store: HistoryStore, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.toml: manifest not found"):
        deployed_bundle(tmp_path / "nowhere.toml", config, "ref", store=store.url)
    (tmp_path / "state.json").write_text('{"format": ')
    with pytest.raises(ConfigError, match=r"state\.json: not valid JSON at line 1"):
        deployed_bundle(tmp_path / "state.json", config, "ref", store=store.url)


def test_a_state_matching_neither_release_is_unknown(releases: dict[str, Bundle]) -> None:
    state = releases["restored"]
    parts = {**state.parts, "token_budget": {"max_tokens": 4096}}
    drifted = Bundle(state.env, "r42-drifted", state.captured_at, parts)
    plan = plan_rollback(releases["r43"], releases["r42"], state=drifted)
    assert plan.partial and plan.states["token_budget"] == "unknown"
    assert any(w.startswith("token budget matches neither r43 nor r42") for w in plan.warnings)


def test_a_fully_restored_state_is_not_partial(releases: dict[str, Bundle]) -> None:
    plan = plan_rollback(releases["r43"], releases["r42"], state=releases["restored"])
    assert not plan.partial
    assert set(plan.states.values()) == {"restored"} and len(plan.states) == 5
    assert not [w for w in plan.warnings if "still at" in w or w.startswith("partial rollback")]
    assert "Deployed state (ref/r42-restored): fully restored" in plan.lines()


def test_a_plan_between_equal_bundles_restores_nothing(releases: dict[str, Bundle]) -> None:
    plan = plan_rollback(releases["r42"], releases["restored"])
    assert plan.restore == [] and plan.warnings == []
    assert "Nothing to restore" in plan.lines()[1]


# ------------------------------------------------------------------------------ files and references


def test_an_existing_release_is_not_overwritten_without_force(
    config: Config, store: HistoryStore, integration: Path, tmp_path: Path
) -> None:
    first = capture(config, "r42", integration / "manifest.toml", store, tmp_path)
    before = first.path.read_text()
    edit(integration / "manifest.toml", 'version = "1.40.0"', 'version = "1.41.0"')
    with pytest.raises(UsageError, match=r"bundle ref/r42 exists at .*r42\.json; pass --force"):
        capture(config, "r42", integration / "manifest.toml", store, tmp_path)
    assert first.path.read_text() == before
    second = capture(config, "r42", integration / "manifest.toml", store, tmp_path, force=True)
    assert Bundle.load(second.path).parts["client"]["version"] == "1.41.0"
    assert sorted(p.name for p in first.path.parent.iterdir()) == ["r42.json"]  # no temporary file left


def test_a_bad_release_name_or_unknown_environment_is_refused(
    config: Config, store: HistoryStore, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match=r"release '\.\./r42'"):
        capture(config, "../r42", None, store, tmp_path)
    with pytest.raises(ConfigError, match="unknown environment 'prod'"):
        capture_bundle(config, "prod", "r42", manifest=None, store=store, bundles_dir=tmp_path)


def test_resolve_bundle_by_env_and_release_or_by_path(
    config: Config, store: HistoryStore, tmp_path: Path
) -> None:
    bundle = capture(config, "r42", None, store, tmp_path)
    assert resolve_bundle("ref/r42", tmp_path / "bundles") == bundle.path
    assert resolve_bundle(str(bundle.path)) == bundle.path
    with pytest.raises(UsageError, match="no bundle ref/r41 at"):
        resolve_bundle("ref/r41", tmp_path / "bundles")
    with pytest.raises(UsageError, match="ENV/RELEASE"):
        resolve_bundle("r42", tmp_path / "bundles")
    with pytest.raises(UsageError, match="no bundle file at"):
        resolve_bundle(str(tmp_path / "absent.json"))


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid JSON at line 1"),
        ("[]", "expected a JSON object"),
        ('{"format": "other/9"}', "format: unsupported format 'other/9'"),
        (
            '{"format": "contract-workbench-bundle/1", "env": "ref", "release": "r1", "captured_at": "x", '
            '"parts": {"client": 3}}',
            "parts.client: must be an object",
        ),
    ],
    ids=["not-json", "not-an-object", "unknown-format", "part-not-an-object"],
)
def test_an_invalid_bundle_file_is_a_config_error_naming_it(
    tmp_path: Path, content: str, fragment: str
) -> None:
    path = tmp_path / "r1.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        Bundle.load(path)
    assert str(caught.value).startswith(str(path)) and fragment in str(caught.value)


# ------------------------------------------------------------------------------- the reference demo


def test_the_reference_demo_manifest_captures_a_complete_verified_bundle(tmp_path: Path) -> None:
    config = default_config()
    store = HistoryStore(f"sqlite:///{tmp_path}/h.sqlite")
    run_probes(config, ["reference"], store=store)
    manifest = REPO / "data" / "integration" / "manifest.toml"
    bundle = capture_bundle(
        config, "reference", "demo", manifest=manifest, store=store, bundles_dir=tmp_path / "bundles"
    )
    assert not [name for name, part in bundle.parts.items() if part.get("missing")]
    assert bundle.parts["client"]["package"] == "httpx"
    assert bundle.parts["parser"]["ref"] == "workbench:reference_parser"
    assert bundle.parts["token_budget"] == {"max_tokens": 256}
    assert json.loads((manifest.parent / "flags.json").read_text())["streaming"] is True
    assert "{{ model }}" in (manifest.parent / "request.json").read_text()
    checks = verify_bundle(bundle, secrets={}, store=store)
    assert all(check.ok for check in checks), [c for c in checks if not c.ok]
    assert scan_paths([manifest.parent]) == []
