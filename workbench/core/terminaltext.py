"""Text from servers, logs and files made safe to print on a terminal: control characters shown, not obeyed.

An endpoint's error message reaches stdout (verdict reasons, step evidence, trigger evidence). Printed
raw, an ANSI or OSC sequence in it clears the screen, sets the window title or rewrites a line
(`\\r` then "reference: ready"); a bidirectional override reorders what a reviewer reads, and a
zero-width character hides text inside a word. Each such
character becomes a visible `\\uXXXX` escape instead, which is also a valid escape inside a JSON
string (so `workbench classify`'s JSON keeps its values). Line feeds and tabs stay as they are.
"""

from __future__ import annotations

import re

# C0 controls but tab and line feed, DEL, C1 controls (U+009B is a one-byte CSI), the bidirectional
# marks, embeddings, overrides and isolates, the zero-width characters (they hide text inside text),
# and the line and paragraph separators.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]")


def printable(text: str) -> str:
    """`text` with every control character but `\\n` and `\\t` replaced by its `\\uXXXX` escape."""
    return _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
