"""The redactor: a key value in every form a server echoes it is replaced, before anything is cut."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from tests.canary import canary_key
from workbench.core.redaction import Redactor, key_forms

KEY = canary_key("redact") + "/Zq+8w"
REDACT = Redactor.for_keys({"STAGING_KEY": KEY})
MARKER = "[redacted $STAGING_KEY]"


def b64(text: str, *, url: bool = False) -> str:
    return (base64.urlsafe_b64encode if url else base64.b64encode)(text.encode()).decode()


ECHOES = {
    "raw": KEY,
    "bearer": f"Authorization: Bearer {KEY}",
    "json-escaped": json.dumps({"auth": KEY}).replace("/", "\\/"),
    "url-encoded": urllib.parse.quote(f"Bearer {KEY}", safe=""),
    "form-encoded": urllib.parse.urlencode({"token": KEY}),
    "base64 key": b64(KEY),
    "base64 bearer": b64(f"Bearer {KEY}"),
    "base64url bearer": b64(f"Bearer {KEY}", url=True),
    "basic user:key": "Basic " + b64(f"user:{KEY}"),
    **{f"basic, user of {n} bytes": b64("u" * n + ":" + KEY) for n in range(1, 4)},
    "basic key:": b64(f"{KEY}:"),
}


@pytest.mark.parametrize("form", list(ECHOES))
def test_every_echoed_form_is_replaced_by_the_marker(form: str) -> None:
    echoed = ECHOES[form]
    redacted = REDACT(f"the server said: {echoed}; done")
    assert MARKER in redacted
    for needle in (KEY, KEY[:12], echoed.removeprefix("Authorization: ").removeprefix("Basic ")):
        assert needle not in redacted, (needle, redacted)
    assert REDACT.data(echoed.encode()) == REDACT(echoed).encode()


def test_a_key_straddling_a_cut_leaves_no_prefix_behind() -> None:
    message = "." * 280 + KEY + " was refused"
    for limit in (290, 300, 280 + len(KEY) - 1):
        cut = REDACT.cut(message, limit)
        assert len(cut) <= limit
        assert KEY[:5] not in cut, limit  # the cut falls inside the marker, or before it
    assert KEY[:20] in message[:300]  # what cutting first, then redacting, would have kept


def test_nothing_configured_changes_nothing() -> None:
    empty = Redactor.for_keys({})
    assert not empty
    assert empty(f"Bearer {KEY}") == f"Bearer {KEY}"
    assert empty.data(b"x") == b"x"


def test_a_key_containing_another_is_redacted_whole() -> None:
    short, long = KEY, KEY + "-extended"
    both = Redactor.for_keys({"SHORT": short, "LONG": long})
    assert both(f"{long} and {short}") == "[redacted $LONG] and [redacted $SHORT]"


def test_nested_values_are_redacted_keys_included() -> None:
    value = {KEY: [f"Bearer {KEY}", 3, None], "shape": (f"x.{KEY}:str",)}
    assert json.dumps(REDACT.deep(value)).count("redacted") == 3
    assert KEY not in json.dumps(REDACT.deep(value))


def test_every_form_is_long_enough_to_mean_the_key() -> None:
    short_key = "abcdefgh"  # the shortest value Config.key_values() keeps
    assert min(len(form) for form in key_forms(short_key).values()) >= 8
