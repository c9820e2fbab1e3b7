"""Server text printed by the CLI: escape sequences shown as text, rich markup printed literally.

Observed before the fix: `workbench probe` against a server whose 500 message carried
"\\x1b]0;pwned\\x07\\x1b[2J\\r" wrote those bytes raw to stdout (rich strips BEL and CR but passes
ESC), so a terminal set its title and cleared the screen; `workbench classify` passed U+009B (a
one-byte CSI) and U+202E through its JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.canary import canary_key
from tests.commands import cli
from tests.hostile import HostileServer

KEY = canary_key("terminal")
PAYLOAD = "\x1b]0;pwned\x07\x1b[2J\x1b[1A\rreference: ready \x9b31m\u202egnirts [bold]marked[/bold]"
RAW = ("\x1b", "\x07", "\r", "\x9b", "\u202e")


def assert_nothing_raw(text: str) -> None:
    for character in RAW:
        assert character not in text, (character, text)


def test_probe_prints_a_servers_escape_sequences_as_text(tmp_path: Path) -> None:
    body = json.dumps({"error": {"message": PAYLOAD, "type": "server_error"}}).encode()
    (tmp_path / "env.toml").write_text(
        '[environments.hostile]\nbase_url = "{url}"\napi_key_env = "WB_TERMINAL_KEY"\nmodel = "m"\n'
        "timeout_s = 2\n"
    )
    with HostileServer("status", status=500, body=body) as server:
        config = (tmp_path / "env.toml").read_text().replace("{url}", server.base_url)
        (tmp_path / "env.toml").write_text(config)
        done = cli(
            "probe",
            "--config",
            "env.toml",
            "--probe",
            "endpoint.minimal",
            "--store",
            f"sqlite:///{tmp_path / 'h.sqlite'}",
            cwd=tmp_path,
            env={"WB_TERMINAL_KEY": KEY},
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert_nothing_raw(done.stdout + done.stderr)
    assert "\\u001b]0;pwned\\u0007\\u001b[2J" in done.stdout
    assert "[bold]marked[/bold]" in done.stdout  # markup printed, not applied


@pytest.mark.parametrize("suffix", [".json", ".txt"])
def test_classify_json_carries_escapes_not_controls(tmp_path: Path, suffix: str) -> None:
    body = json.dumps({"error": {"message": PAYLOAD}}, ensure_ascii=False) if suffix == ".json" else PAYLOAD
    (tmp_path / f"body{suffix}").write_text(body)
    done = cli("classify", f"body{suffix}", "--status", "500", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert_nothing_raw(done.stdout)
    printed = json.loads(done.stdout)
    assert printed["detail"]
