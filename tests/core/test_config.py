"""Configuration: the embedded default, and one clear line naming file and field for every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.canary import canary_key
from tests.paths import REPO
from workbench import ConfigError, Scenario, default_config, load_config
from workbench.core.config import check_keys_present, parse_config

GOOD = """
[environments.staging]
base_url = "https://api.example.com/"
api_key_env = "STAGING_KEY"
model = "approved-model"
timeout_s = 12.5

[environments.staging.app_request]
temperature = 0.2
"""


REAL = '[environments.a]\napi_key_env = "K"\nmodel = "m"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "environments.toml"
    path.write_text(text)
    return path


def test_the_built_in_default_is_two_embedded_environments(workdir: Path) -> None:
    config = load_config()
    assert config.source is None
    assert list(config.environments) == ["reference", "reference-drifted"]
    reference, drifted = config.environments.values()
    assert reference.is_embedded and reference.scenarios == {Scenario.CONFORMANT}
    assert Scenario.CONTENT_MOVED in drifted.scenarios and Scenario.AUTH_NOT_ENFORCED in drifted.scenarios
    assert reference.model == "wb-reference-1"


def test_the_shipped_data_file_matches_the_built_in_default() -> None:
    shipped = load_config(REPO / "data" / "environments.toml")
    built_in = default_config()
    assert {name: env.scenarios for name, env in shipped.environments.items()} == {
        name: env.scenarios for name, env in built_in.environments.items()
    }


def test_a_real_endpoint_is_read_with_defaults(tmp_path: Path) -> None:
    env = load_config(write(tmp_path, GOOD)).environments["staging"]
    assert env.base_url == "https://api.example.com"  # trailing slash removed
    assert env.path == "/v1/chat/completions"
    assert env.timeout_s == 12.5 and env.production is False and env.stream is False
    assert env.app_request == {"temperature": 0.2}


def test_config_path_comes_from_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_CONFIG", str(write(tmp_path, GOOD)))
    assert list(load_config().environments) == ["staging"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("[environments.a\nbase_url = 1", "malformed TOML", id="malformed-toml"),
        pytest.param(
            '[environments.a]\nbase_url = "embedded"\ncolour = "blue"\n',
            "environments.a.colour: unknown key",
            id="unknown-key",
        ),
        pytest.param(
            '[environments.a]\nbase_url = "embedded"\ntimeout_s = -1\n',
            "environments.a.timeout_s",
            id="negative-timeout",
        ),
        pytest.param('[environments.a]\nbase_url = "ftp://x"\n', "environments.a.base_url", id="bad-url"),
        pytest.param(
            '[environments.a]\nbase_url = "https://x"\nmodel = "m"\n',
            "'api_key_env' is required",
            id="real-endpoint-without-key-reference",
        ),
        pytest.param(
            '[environments.a]\nbase_url = "https://x"\napi_key_env = "sk-live-abc"\nmodel = "m"\n',
            "NAME of an environment variable",
            id="key-value-instead-of-name",
        ),
        pytest.param(
            '[environments.a]\nbase_url = "embedded"\nscenario = "sideways"\n',
            "unknown scenario 'sideways'",
            id="unknown-scenario",
        ),
        pytest.param(
            '[environments.a]\nbase_url = "embedded"\n[environments.a.app_request]\nmodel = "x"\n',
            "'model' is set by the environment",
            id="model-in-app-request",
        ),
        pytest.param("[workbench]\nconcurrency_per_env = 4\n", "environments", id="no-environments"),
        pytest.param(
            '[environments."bad name!"]\nbase_url = "embedded"\n', "environments.bad name!", id="bad-name"
        ),
        pytest.param(
            REAL + 'base_url = "https://api.example.com /v1"\n',
            "environments.a.base_url",
            id="url-with-space",
        ),
        pytest.param(
            REAL + 'base_url = "https://api.example.com\\r\\nX-Evil: 1"\n',  # TOML escapes
            "environments.a.base_url",
            id="url-with-crlf",
        ),
        pytest.param(
            REAL + 'base_url = "https:///v1"\n',
            "environments.a.base_url",
            id="url-without-host",
        ),
        pytest.param(
            REAL + 'base_url = "https://api.example.com:99999"\n',
            "environments.a.base_url",
            id="url-bad-port",
        ),
        pytest.param(
            REAL + 'base_url = "https://api.example.com/\\u001b[2J"\n',
            "environments.a.base_url",
            id="url-with-control",
        ),
        pytest.param(
            REAL + 'base_url = "https://x"\npath = "/v1/chat completions"\n',
            "environments.a.path",
            id="path-with-space",
        ),
        pytest.param(
            REAL + 'base_url = "https://x"\npath = "/v1\\nHost: evil"\n',
            "environments.a.path",
            id="path-with-lf",
        ),
        pytest.param(
            REAL + 'base_url = "https://x"\ntimeout_s = "30"\n',
            "environments.a.timeout_s",
            id="timeout-as-string",
        ),
        pytest.param(
            REAL + 'base_url = "https://x"\nproduction = "yes"\n',
            "environments.a.production",
            id="production-as-string",
        ),
        pytest.param(
            REAL + 'base_url = "https://x"\nmax_tokens = 16.0\n',
            "environments.a.max_tokens",
            id="max-tokens-as-float",
        ),
        pytest.param(
            '[workbench]\nconcurrency_per_env = "4"\n[environments.a]\nbase_url = "embedded"\n',
            "workbench.concurrency_per_env",
            id="settings-number-as-string",
        ),
    ],
)
def test_bad_config_is_one_line_naming_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert expected in message
    assert "\n" not in message
    assert caught.value.exit_code == 2


def test_malformed_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[environments.a]\nbase_url = "embedded"\nscenario = [\n')
    with pytest.raises(ConfigError, match=r"line \d+"):
        load_config(path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.toml: file not found"):
        load_config(tmp_path / "nowhere.toml")


def test_unknown_environment_lists_the_configured_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown environment 'prod' \(configured: reference, reference-drifted\)"
    ):
        default_config().select(["prod"])


def test_unset_key_variable_names_the_variable_and_never_a_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(write(tmp_path, GOOD))
    monkeypatch.delenv("STAGING_KEY", raising=False)
    with pytest.raises(ConfigError, match="environment variable STAGING_KEY is not set") as caught:
        check_keys_present(config, config.select())
    assert "environments.staging.api_key_env" in str(caught.value)
    monkeypatch.setenv("STAGING_KEY", canary_key("staging"))
    check_keys_present(config, config.select())  # set: no error, and the value is only read at send time


@pytest.mark.parametrize(
    "shape",
    ["{key}\n", " {key}", "{key}\r\nX-Injected: 1", "{key}\x7f", "{key}é"],
    ids=["trailing-newline", "leading-space", "header-injection", "control", "non-ascii"],
)
def test_a_key_no_header_can_carry_is_refused_before_any_request_naming_only_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    """Observed before: a key with a trailing newline (read from a file) was sent, h11 refused the
    header at our end, and the probe failed as `transport`, "connection failed mid-exchange": the
    endpoint blamed for our configuration."""
    key = canary_key("staging")
    config = load_config(write(tmp_path, GOOD))
    monkeypatch.setenv("STAGING_KEY", shape.format(key=key))
    with pytest.raises(
        ConfigError, match="STAGING_KEY holds a character an HTTP header cannot carry"
    ) as caught:
        check_keys_present(config, config.select(["staging"]))
    assert "environments.staging.api_key_env" in str(caught.value)
    assert key[-12:] not in str(caught.value)
    monkeypatch.setenv("STAGING_KEY", key)
    check_keys_present(config, config.select(["staging"]))


def test_digest_changes_with_content_not_with_location(tmp_path: Path) -> None:
    first = parse_config(GOOD, source=tmp_path / "a.toml")
    second = parse_config(GOOD, source=tmp_path / "b.toml")
    third = parse_config(GOOD.replace("12.5", "13"), source=None)
    assert first.digest == second.digest != third.digest


@pytest.mark.parametrize(
    ("url", "word"),
    [
        ("https://api.example.com /v1", "whitespace"),
        ("https://api.example.com\r\nX-Evil: 1", "whitespace"),
        ("https:///v1", "host"),
        ("https://api.example.com:99999", "port"),
        ("https://api.example.com/\x1b[2J", "control"),
        ("http//api.example.com", "http(s) URL"),
    ],
)
def test_a_base_url_is_parsed_strictly_and_the_error_says_why(tmp_path: Path, url: str, word: str) -> None:
    text = REAL + f"base_url = {json.dumps(url)}\n"
    with pytest.raises(ConfigError, match=r"environments\.a\.base_url") as caught:
        load_config(write(tmp_path, text))
    assert word in str(caught.value)


def test_strict_types_are_not_coerced_but_paths_are_read_from_text(tmp_path: Path) -> None:
    text = REAL + 'base_url = "https://x"\nmanifest = "m.toml"\nproduction = true\ntimeout_s = 30\n'
    config = load_config(write(tmp_path, text + '[workbench]\nfixtures_dir = "fx"\n'))
    env = config.environments["a"]
    assert env.manifest == tmp_path / "m.toml" and env.production is True and env.timeout_s == 30.0
    assert config.settings.fixtures_dir.resolve() == (tmp_path / "fx").resolve()  # in the project (issue 13)


def test_the_drift_reference_names_a_configured_environment() -> None:
    two = '[environments.a]\nbase_url = "embedded"\n[environments.b]\nbase_url = "embedded"\n'
    assert parse_config(two, source=None).settings.drift_reference is None  # chosen per run
    chosen = parse_config('[workbench]\ndrift_reference = "b"\n' + two, source=None)
    assert chosen.settings.drift_reference == "b"
