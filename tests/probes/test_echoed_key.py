"""A key the endpoint echoes back is redacted at the source: never stored, never in a result.

Observed before the fix (issue 11, finding 2): with these servers, `results.detail` in the history
held `Bearer <key>` raw, its base64 and URL-encoded forms, and the 302's Location with the key in
its query; the straddling 401 left the key's first 20 characters in the detail (cut at 300).
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.canary import canary_key
from tests.hostile import ECHO_MODES, HostileServer
from workbench import HistoryStore, run_probes
from workbench.core.config import parse_config

# '/' and '+' make the URL-encoded and JSON-escaped forms differ from the raw key, as in real keys
KEY = canary_key("echo") + "/Zq+8w"
VARIABLE = "WB_ECHO_KEY"


def leaked_forms(key: str) -> dict[str, str]:
    """Every form of `key` that must appear nowhere, and every piece of 12 characters of the key (what
    a cut leaves, or a key split over two lines of a stream)."""
    forms = {"raw": key, "prefix": key[:20], "json-escaped": json.dumps(key)[1:-1].replace("/", "\\/")}
    for label, text in (("key", key), ("bearer", f"Bearer {key}"), ("basic", f"user:{key}")):
        forms[f"url-encoded {label}"] = urllib.parse.quote(text, safe="")
        forms[f"url-encoded lower-case {label}"] = re.sub(
            r"%[0-9A-F]{2}", lambda m: m.group().lower(), forms[f"url-encoded {label}"]
        )
        forms[f"url-encoded+ {label}"] = urllib.parse.quote_plus(text)
        forms[f"base64 {label}"] = base64.b64encode(text.encode()).decode().rstrip("=")
        forms[f"base64url {label}"] = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    for start in range(len(key) - 11):
        forms[f"12 characters at {start}"] = key[start : start + 12]
    return forms


def leaks_in(data: bytes | str, key: str = KEY) -> list[str]:
    """The names of the forms of `key` found in `data`."""
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    return [label for label, form in leaked_forms(key).items() if form in text]


def echo_config(servers: dict[str, HostileServer], tmp_path: Path) -> str:
    text = f'[workbench]\nfixtures_dir = "{tmp_path / "fixtures"}"\nbundles_dir = "{tmp_path / "bundles"}"\n'
    for mode, server in servers.items():
        text += (
            f'[environments.{mode.replace("_", "-")}]\nbase_url = "{server.base_url}"\n'
            f'api_key_env = "{VARIABLE}"\nmodel = "m"\ntimeout_s = 2\nstream = true\n'
        )
    return text


@pytest.fixture
def echo_servers() -> Iterator[dict[str, HostileServer]]:
    with ExitStack() as stack:
        yield {mode: stack.enter_context(HostileServer("echo_key", mode=mode)) for mode in ECHO_MODES}


def test_the_echo_servers_do_echo_every_form(echo_servers: dict[str, HostileServer]) -> None:
    import httpx

    auth = {"Authorization": f"Bearer {KEY}"}
    for mode, server in echo_servers.items():
        response = httpx.post(server.base_url + "/v1/chat/completions", headers=auth, content=b"{}")
        seen = response.text + response.headers.get("location", "")
        expected = {"raw", "prefix", "base64 bearer", "base64 basic", "url-encoded bearer"}
        if mode == "straddle_4xx":
            expected = {"raw", "prefix"}
        elif mode in ("escaped_straddle_4xx", "escaped_refusal"):
            assert KEY not in seen and f"\\u{ord(KEY[0]):04x}{KEY[1:]}" in seen  # only an escape apart
            seen, expected = json.dumps(response.json(), ensure_ascii=False), {"raw"}
        elif mode == "percent_lower_4xx":
            expected = {"url-encoded lower-case bearer"}
        elif mode == "split_data_lines":
            assert KEY not in seen and "\ndata: " + KEY[len(KEY) // 2 :] in seen
            expected = {"12 characters at 0"}
        assert expected <= set(leaks_in(seen)), (mode, leaks_in(seen))


def test_an_echoed_key_is_in_no_result_and_nowhere_in_the_store(
    echo_servers: dict[str, HostileServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, KEY)
    config = parse_config(echo_config(echo_servers, tmp_path), source=None)
    database = tmp_path / "history.sqlite"
    with HistoryStore(f"sqlite:///{database}") as store:
        summary = run_probes(config, store=store)
        stored = store.results([summary.run_id])
        files = {path.name: path.read_bytes() for path in store.local_files() if path.exists()}
    assert all(server.requests for server in echo_servers.values())
    details = {f"{r.env}/{r.probe}": r.detail for r in stored}
    leaking = {where: leaks_in(detail) for where, detail in details.items() if leaks_in(detail)}
    assert not leaking, leaking
    for result in summary.results:
        record = json.dumps(result.to_dict())
        assert not leaks_in(record), (result.env, result.probe, leaks_in(record))
    assert {name: leaks_in(data) for name, data in files.items() if leaks_in(data)} == {}
    assert any("[redacted $WB_ECHO_KEY]" in detail for detail in details.values()), details
