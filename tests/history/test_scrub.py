"""`workbench store scrub --key-env OLD_VAR` (issue 20, item 3): an old key's material, in every form
and fragment the redactor removes, taken out of a store that already holds it, on SQLite and
PostgreSQL, and the space it held given back (no copy left in the SQLite file or its WAL)."""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.canary import canary_key
from tests.commands import cli
from tests.history.test_store import result, run_record
from workbench import HistoryStore
from workbench.core.redaction import FRAGMENT, key_forms, marker
from workbench.core.secrets import key_needles, scan_paths
from workbench.history.confirmations import new_confirmation

pytest_plugins = ("tests.pg",)

OLD = canary_key("rotated") + "/Zq+8w"  # a slash and a plus: its encoded forms differ from it
VARIABLE = "WB_OLD_KEY"


def lower_hex(text: str) -> str:
    return urllib.parse.quote(text, safe="").replace("%2F", "%2f").replace("%2B", "%2b")


def fill(store: HistoryStore, run_id: str) -> None:
    """A store as versions before issue 20 left it: the key in the forms a server echoed, and cut."""
    store.begin_run(run_record(run_id, environments=("staging",)))
    escaped = "\\u0073" + OLD[1:]  # its first character written as a JSON escape
    store.append(
        result(
            run_id,
            detail=f"401: invalid key {OLD} (cut here: {OLD[: FRAGMENT + 8]}",
            action=f"GET /v1?key={lower_hex(OLD)}",
            facts={"echo": base64.b64encode(f"Bearer {OLD}".encode()).decode(), "kept": "fine"},
        )
    )
    store.append(result(run_id, probe="auth.invalid_key", detail="nothing secret here", facts={"n": 1}))
    store.add_confirmation(
        new_confirmation("staging", "billing", by="ops", note=f"pasted {OLD[-20:]} by mistake")
    )
    store.save_readiness(
        run_id,
        "staging",
        ready=False,
        steps_json=json.dumps([{"number": 6, "evidence": f'error.message: "{escaped}"'}]),
        assessed_at="2026-11-27T04:36:00.000Z",
    )


def test_scrub_removes_every_form_and_fragment_from_every_project_and_vacuums(
    store_url: str, tmp_path: Path
) -> None:
    for project in ("team-a", "team-b"):
        with HistoryStore(store_url, project_name=project) as store:
            fill(store, f"r-{project}")
    needles = key_needles({VARIABLE: OLD})
    with HistoryStore.for_maintenance(store_url) as store:
        assert store.find_text(needles)  # what step 6 would name

    done = cli(
        "store", "scrub", "--key-env", VARIABLE, "--store", store_url, cwd=tmp_path, env={VARIABLE: OLD}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the store was vacuumed" in done.stdout and "results.detail: 2" in done.stdout
    assert OLD not in done.stdout + done.stderr

    with HistoryStore.for_maintenance(store_url) as store:  # open: as step 6 reads it, WAL and all
        assert store.find_text(needles) == []
        local = store.local_files()
        if local:  # SQLite: no copy in the file, its WAL or free pages (the scan reads them as bytes)
            assert not scan_paths(local, secrets={VARIABLE: OLD})
            data = b"".join(path.read_bytes() for path in local)
            for form in key_forms(OLD).values():
                assert form.encode() not in data, form
            assert OLD[-20:].encode() not in data
    for project in ("team-a", "team-b"):
        with HistoryStore(store_url, project_name=project) as store:
            first, clean = store.results()
            assert first.detail == f"401: invalid key {marker(VARIABLE)} (cut here: {marker(VARIABLE)}"
            assert first.action == f"GET /v1?key={marker(VARIABLE)}"
            assert first.facts == {"echo": marker(VARIABLE), "kept": "fine"}  # still JSON, still a dict
            assert (clean.detail, clean.facts) == ("nothing secret here", {"n": 1})
            assert store.confirmations()[0].note == f"pasted {marker(VARIABLE)} by mistake"
            (steps,) = store.readiness(f"r-{project}").values()
            assert json.loads(steps) == [{"number": 6, "evidence": f'error.message: "{marker(VARIABLE)}"'}]


def test_scrub_takes_the_value_from_the_named_variable_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    HistoryStore(url, project_name="team-a").close()
    for args, env, said in (
        (("--key-env", VARIABLE), {}, f"{VARIABLE} is not set"),
        (("--key-env", VARIABLE), {VARIABLE: "short"}, "too short to be a key"),
        (("--key-env", OLD), {}, "the NAME of an environment variable"),
    ):
        done = cli("store", "scrub", *args, "--store", url, cwd=tmp_path, env=env)
        assert done.returncode == 2 and said in done.stderr, done.stderr
        assert len(done.error_lines) == 1 and OLD not in done.stderr


@pytest.mark.parametrize(
    "echoed",
    [
        pytest.param(lambda key: f"Bearer {key}", id="raw"),
        pytest.param(lower_hex, id="lower-case-percent"),
        pytest.param(lambda key: key[3 : 3 + FRAGMENT + 2], id="fragment"),
    ],
)
def test_scan_searches_the_history_store_as_step_6_does(
    store_url: str, tmp_path: Path, echoed: Callable[[str], str]
) -> None:
    # Before: `workbench scan` read files only, so a PostgreSQL store (no file) holding a key was
    # "no secret", while readiness step 6 named it.
    with HistoryStore(store_url, project_name="team-b") as store:  # another project's rows: a leak too
        store.append(result(detail=f"echoed {echoed(OLD)} back"))
    (tmp_path / "env.toml").write_text(
        f'[environments.staging]\nbase_url = "embedded"\napi_key_env = "{VARIABLE}"\n'
    )
    done = cli("scan", "--config", "env.toml", "--store", store_url, cwd=tmp_path, env={VARIABLE: OLD})
    assert done.returncode == 1, done.stdout
    assert f"${VARIABLE}" in done.stdout and OLD not in done.stdout
    assert (
        ("results.detail" in done.stdout)
        if store_url.startswith("postgresql")
        else ("history" in done.stdout)
    )
