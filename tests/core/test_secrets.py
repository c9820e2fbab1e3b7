"""Secrets and personal data: found where they must not be, refused before a probe is sent, never logged."""

from __future__ import annotations

import base64
import json
import logging
import urllib.parse
from pathlib import Path

import pytest

from tests.canary import canary_key
from tests.commands import cli
from tests.hostile import HostileServer
from workbench import ConfigError, HistoryStore, run_probes
from workbench.core.config import parse_config
from workbench.core.secrets import mask, scan_paths, scan_personal_data, scan_text
from workbench.wire.client import plain_http_warning, redact_headers


def test_scan_finds_configured_values_bearer_tokens_and_provider_formats() -> None:
    value = "opaque-" + canary_key("value")[3:]  # not key-shaped: only the exact match can find it
    bearer = "Bearer " + "tok" + canary_key("b")[3:]
    text = f"line one\nvalue={value}\nheader: {bearer}\n{canary_key('plain')}\nsk-...REDACTED\n"
    findings = scan_text(text, where="report.html", secrets={"MY_KEY": value})
    kinds = [(f.line, f.kind) for f in findings]
    assert (2, "value of $MY_KEY") in kinds
    assert (3, "bearer token") in kinds
    assert (4, "OpenAI-style key") in kinds
    assert all(f.line != 5 for f in findings)  # a redacted placeholder is not a key
    assert all(value not in str(f) and f.masked.endswith("chars]") for f in findings)


def test_the_wrong_key_auth_invalid_key_sends_is_no_secret_when_echoed() -> None:
    # Seen with the echo servers of issue 20: an endpoint that echoes the Authorization header put
    # `Bearer wb-invalid-<hex>` (the probe's own wrong key) in the reports, and the audit's check
    # marked it "secret found" (exit 1) and `workbench scan` failed on it.
    from workbench.core.secrets import INVALID_KEY_PREFIX

    wrong, real = f"{INVALID_KEY_PREFIX}c1a29ce66a080ef2069c6c7e", "tok" + canary_key("b")[3:]
    text = f"refused: Bearer {wrong}\nrefused: Bearer {real}"
    assert [(finding.line, finding.kind) for finding in scan_text(text, where="r.html")] == [
        (2, "bearer token")
    ]


def test_scan_paths_walks_folders_and_checks_binary_files_for_exact_values(tmp_path: Path) -> None:
    secret = canary_key("db")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "notes.txt").write_text(f"ok\n{secret}\n")
    (tmp_path / "history.sqlite").write_bytes(b"SQLite format 3\0" + secret.encode() + b"\0")
    (tmp_path / "clean.json").write_text('{"a": 1}')
    found = {(Path(f.path).name, f.line) for f in scan_paths([tmp_path], secrets={"K": secret})}
    assert found >= {("notes.txt", 2), ("history.sqlite", 0)}
    assert not any(name == "clean.json" for name, _ in found)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        pytest.param("write to jane.doe@gmail.com", "e-mail address", id="email"),
        pytest.param("call +1 415 555 0100 today", "phone number", id="phone-international"),
        pytest.param("call (415) 555-0100", "phone number", id="phone-us"),
        pytest.param("card 4111 1111 1111 1111", "payment card number", id="card"),
    ],
)
def test_personal_data_is_found(text: str, kind: str) -> None:
    assert [f.kind for f in scan_personal_data(text, where="prompt")] == [kind]


@pytest.mark.parametrize(
    "text",
    [
        "support@example.com",
        "id 20261127T043503Z-ab12cd",
        "2026-11-27T04:35:03.123Z",
        "order 1234567890123",
        "temperature 0.2, max_tokens 64",
        "request id: 8f14e45f",
    ],
)
def test_sanitized_text_is_not_personal_data(text: str) -> None:
    assert scan_personal_data(text, where="prompt") == []


def test_a_probe_prompt_with_personal_data_is_refused_before_sending(tmp_path: Path) -> None:
    text = (
        '[environments.ref]\nbase_url = "embedded"\n[environments.ref.app_request]\n'
        'messages = [{role = "user", content = "Summarise the ticket of jane.doe@gmail.com"}]\n'
    )
    with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
        with pytest.raises(
            ConfigError, match=r"environments\.ref\.app_request: .*e-mail address \(jane…"
        ) as caught:
            run_probes(parse_config(text, source=tmp_path / "env.toml"), store=store)
        assert store.runs() == []
    assert "jane.doe@gmail.com" not in str(caught.value)


def test_a_key_pasted_into_a_probe_prompt_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = canary_key("prompt")
    monkeypatch.setenv("WB_KEY", key)
    text = (
        f'[environments.ref]\nbase_url = "embedded"\napi_key_env = "WB_KEY"\n[environments.ref.app_request]\n'
        f'user = "{key}"\n'
    )
    with pytest.raises(ConfigError, match="value of \\$WB_KEY") as caught:
        run_probes(parse_config(text, source=None), store=HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}"))
    assert key not in str(caught.value)


def test_debug_logging_shows_requests_with_credentials_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key = canary_key("log")
    monkeypatch.setenv("WB_KEY", key)
    config = parse_config('[environments.ref]\nbase_url = "embedded"\napi_key_env = "WB_KEY"\n', source=None)
    with caplog.at_level(logging.DEBUG), HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
        run_probes(config, probe_ids=["endpoint.minimal", "auth.invalid_key"], store=store)
    assert "POST http://127.0.0.1" in caplog.text and "'authorization': '[REDACTED]'" in caplog.text
    assert key not in caplog.text
    assert "wb-invalid-" not in caplog.text  # not even the deliberately wrong key


def test_redact_headers_covers_every_credential_header() -> None:
    headers = {"Authorization": "Bearer x", "X-Api-Key": "y", "Cookie": "z", "Accept": "application/json"}
    assert redact_headers(headers) == {
        "Authorization": "[REDACTED]",
        "X-Api-Key": "[REDACTED]",
        "Cookie": "[REDACTED]",
        "Accept": "application/json",
    }
    assert mask("abcdefgh") == "abcd…[8 chars]"


def test_scan_command_names_file_and_line_and_never_prints_the_secret(tmp_path: Path) -> None:
    key = canary_key("scan")
    (tmp_path / "env.toml").write_text(
        '[environments.s]\nbase_url = "embedded"\napi_key_env = "WB_SCAN_KEY"\n'
    )
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "clean.html").write_text("<p>ok</p>")
    clean = cli("scan", "reports", "--config", "env.toml", cwd=tmp_path, env={"WB_SCAN_KEY": key})
    assert clean.returncode == 0 and "no secret in reports" in clean.stdout
    (tmp_path / "reports" / "leak.html").write_text(f"<p>one</p>\n<p>{key}</p>\n")
    leaked = cli("scan", "reports", "--config", "env.toml", cwd=tmp_path, env={"WB_SCAN_KEY": key})
    assert leaked.returncode == 1
    assert "reports/leak.html:2: value of $WB_SCAN_KEY" in leaked.stdout
    assert key not in leaked.stdout + leaked.stderr


def test_scan_command_finds_personal_data_in_a_prompt_template(tmp_path: Path) -> None:
    (tmp_path / "integration").mkdir()
    (tmp_path / "integration" / "prompt.txt").write_text(
        "You help customers.\nEscalate to bob.smith@corp.com.\n"
    )
    (tmp_path / "integration" / "manifest.toml").write_text('[request]\nprompt_template = "prompt.txt"\n')
    (tmp_path / "env.toml").write_text(
        '[environments.s]\nbase_url = "embedded"\nmanifest = "integration/manifest.toml"\n'
    )
    done = cli("scan", "integration", "--config", "env.toml", cwd=tmp_path)
    assert done.returncode == 1 and "prompt.txt:2: e-mail address" in done.stdout


def test_verbose_logs_requests_with_the_key_redacted(tmp_path: Path) -> None:
    key = canary_key("verbose")
    (tmp_path / "env.toml").write_text('[environments.s]\nbase_url = "embedded"\napi_key_env = "WB_V_KEY"\n')
    done = cli(
        "-v",
        "probe",
        "--config",
        "env.toml",
        "--probe",
        "endpoint.minimal",
        cwd=tmp_path,
        env={"WB_V_KEY": key},
    )
    assert done.returncode == 0, done.stderr
    assert "workbench.client POST" in done.stderr and "'authorization': '[REDACTED]'" in done.stderr
    assert key not in done.stderr + done.stdout


def test_scan_finds_a_key_value_in_every_form_a_server_echoes_it_once_each() -> None:
    # Before issue 11 was fixed only the raw value was looked for: none of these lines was found.
    value = "opaque-" + canary_key("echo")[3:] + "/Zq+8w"  # not key-shaped: only its forms can be found
    lines = [
        base64.b64encode(f"Bearer {value}".encode()).decode(),
        "Basic " + base64.b64encode(f"deploy:{value}".encode()).decode(),
        "https://login.example/?token=" + urllib.parse.quote(value, safe=""),
        json.dumps({"key": value}).replace("/", "\\/"),
    ]
    findings = scan_text("\n".join(lines), where="report.html", secrets={"MY_KEY": value})
    assert [finding.line for finding in findings] == [1, 2, 3, 4]
    assert all(finding.kind.startswith("value of $MY_KEY (") for finding in findings)
    assert all(value not in str(finding) for finding in findings)


def test_a_gateway_header_is_read_from_its_variable_sent_and_never_shown(tmp_path: Path) -> None:
    """Issue 20: credentials in base_url are refused; a gateway that needs its own credential gets it
    through `headers_env`, from a variable, redacted like the key when echoed, never in a -v log."""
    key, gateway = canary_key("gwkey"), canary_key("gwhdr")
    with HostileServer("echo_key", mode="headers_4xx") as server:
        (tmp_path / "env.toml").write_text(
            f'[environments.gw]\nbase_url = "{server.base_url}"\napi_key_env = "WB_GW_API_KEY"\n'
            'model = "m"\ntimeout_s = 5\nheaders_env = { "X-Gateway-Key" = "WB_GW_HEADER" }\n'
        )
        env = {"WB_GW_API_KEY": key, "WB_GW_HEADER": gateway}
        done = cli(
            "-v", "probe", "--config", "env.toml", "--probe", "endpoint.minimal", "--format", "json",
            cwd=tmp_path, env=env,
        )  # fmt: skip
        sent = server.requests[0].headers
    assert sent.get("x-gateway-key") == gateway and sent.get("authorization") == f"Bearer {key}"
    (record,) = json.loads(done.stdout)
    assert "[redacted $WB_GW_HEADER]" in record["detail"] and "[redacted $WB_GW_API_KEY]" in record["detail"]
    assert "'x-gateway-key': '[redacted $WB_GW_HEADER]'" in done.stderr  # the -v request log
    assert gateway not in done.stdout + done.stderr and key not in done.stdout + done.stderr
    assert gateway.encode() not in (tmp_path / "data" / "history.sqlite").read_bytes()
    unset = cli("probe", "--config", "env.toml", cwd=tmp_path, env={"WB_GW_API_KEY": key})
    assert unset.returncode == 2 and "environments.gw.headers_env.X-Gateway-Key" in unset.stderr


def test_plain_http_to_another_host_is_warned_once_per_run(tmp_path: Path) -> None:
    assert plain_http_warning({"a": "https://api.example.com", "b": "http://127.0.0.1:8000"}) is None
    assert plain_http_warning({"c": "http://[::1]:9", "d": "http://localhost:1"}) is None
    (tmp_path / "env.toml").write_text(
        "".join(
            f'[environments.{name}]\nbase_url = "http://192.0.2.1:9"\napi_key_env = "WB_PLAIN_KEY"\n'
            'model = "m"\ntimeout_s = 0.5\n'
            for name in ("plain-a", "plain-b")
        )
    )
    done = cli(
        "probe",
        "--config",
        "env.toml",
        "--probe",
        "endpoint.minimal",
        cwd=tmp_path,
        env={"WB_PLAIN_KEY": "k" * 20},
    )
    warned = [line for line in done.stderr.splitlines() if line.startswith("warning: plain http://")]
    assert len(warned) == 1, done.stderr
    assert "plain-a (http://192.0.2.1:9), plain-b (http://192.0.2.1:9)" in warned[0]
