"""Response-shape signatures: which JSON paths a response has and of what type, never the values.

A signature is a sorted tuple of `path:type` entries (`choices[].message.content:string`), so two
runs, two releases or staging and production compare field by field without comparing generated
text, ids or timestamps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Bounds on what a signature keeps, whatever the body: an endpoint chooses its keys and nesting, and
# a signature of every path of a 7 MB body (120 levels of 60,000-character keys) was a 436 MB row.
MAX_ENTRIES = 1000  # distinct `path:type` entries per signature (a completion has about 40)
MAX_PATH_CHARS = 300  # a path longer than this is not walked further
MAX_KEY_CHARS = 64  # a longer key is shown by its start and length
KEPT_KEY_CHARS = 48  # of a longer key, the start kept
TRUNCATED = "(truncated)"  # the entry saying a signature stopped at a bound: `(truncated):N entries`


def shape_of(value: Any, prefix: str = "") -> tuple[str, ...]:
    """The signature of a decoded JSON value, within the bounds above (a `TRUNCATED` entry says so)."""
    entries: set[str] = set()
    budget = _Budget()
    _walk(value, prefix, entries, budget)
    if budget.truncated:
        entries.add(f"{TRUNCATED}:{len(entries)} entries")
    return tuple(sorted(entries))


def merge_shapes(shapes: Iterable[Iterable[str]]) -> tuple[str, ...]:
    """The union of several signatures (e.g. all chunks of a stream), within `MAX_ENTRIES`."""
    merged: set[str] = set()
    truncated = False
    for shape in shapes:
        for entry in shape:
            if entry.startswith(TRUNCATED):
                truncated = True
            elif len(merged) < MAX_ENTRIES:
                merged.add(entry)
            else:
                truncated = True
    if truncated:
        merged.add(f"{TRUNCATED}:{len(merged)} entries")
    return tuple(sorted(merged))


def truncated(shape: Iterable[str]) -> bool:
    """Whether a signature stopped at a bound (then its absences prove nothing)."""
    return any(entry.startswith(TRUNCATED) for entry in shape)


_TYPE_NAMES: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def _type_name(value: Any) -> str:
    name = _TYPE_NAMES.get(type(value))  # decoded JSON: one look-up; a subclass takes the long way
    if name is not None:
        return name
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_SCALAR_NAMES = {kind: name for kind, name in _TYPE_NAMES.items() if kind is not list and kind is not dict}


class _Budget:
    __slots__ = ("truncated",)

    def __init__(self) -> None:
        self.truncated = False


def _walk(value: Any, path: str, entries: set[str], budget: _Budget) -> None:
    if len(entries) >= MAX_ENTRIES or len(path) > MAX_PATH_CHARS:
        budget.truncated = True
        return
    kind = type(value)
    entries.add(f"{path or '$'}:{_TYPE_NAMES.get(kind) or _type_name(value)}")
    if kind is dict or (kind is not list and isinstance(value, Mapping)):
        children: Iterable[tuple[str, Any]] = (
            (f"{path}.{_key_name(key)}" if path else _key_name(key), child) for key, child in value.items()
        )
    elif kind is list or isinstance(value, list):
        children = ((f"{path}[]", child) for child in value)
    else:
        return
    for child_path, child in children:
        scalar = _SCALAR_NAMES.get(type(child))
        if scalar is None:
            _walk(child, child_path, entries, budget)
        elif len(entries) >= MAX_ENTRIES or len(child_path) > MAX_PATH_CHARS:
            budget.truncated = True  # what `_walk` does for a scalar, without the call (most values)
        else:
            entries.add(f"{child_path or '$'}:{scalar}")
        if budget.truncated and len(entries) >= MAX_ENTRIES:
            return


def _key_name(key: Any) -> str:
    text = key if type(key) is str else str(key)
    return text if len(text) <= MAX_KEY_CHARS else f"{text[:KEPT_KEY_CHARS]}…[{len(text)} chars]"


@dataclass(frozen=True, slots=True)
class ShapeDiff:
    """How signature `after` differs from `before`: fields added, removed, or seen with other types."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    retyped: tuple[str, ...]  # "path: before-types -> after-types"
    removed_nulls: tuple[str, ...] = ()  # the removed paths that were only ever null (null -> absent)
    truncated: bool = False  # a side stopped at a bound: what it lacks is not known to be gone

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.retyped)


def diff_shapes(before: Iterable[str], after: Iterable[str]) -> ShapeDiff:
    """Compare two signatures by path; a path whose set of types changed is 'retyped'."""
    before, after = tuple(before), tuple(after)
    cut = truncated(before) or truncated(after)
    before = tuple(entry for entry in before if not entry.startswith(TRUNCATED))
    after = tuple(entry for entry in after if not entry.startswith(TRUNCATED))
    old, new = _types_by_path(before), _types_by_path(after)
    retyped = tuple(
        f"{path}: {'|'.join(sorted(old[path]))} -> {'|'.join(sorted(new[path]))}"
        for path in sorted(old.keys() & new.keys())
        if old[path] != new[path]
    )
    removed = () if cut else tuple(sorted(old.keys() - new.keys()))
    return ShapeDiff(
        added=() if cut else tuple(sorted(new.keys() - old.keys())),
        removed=removed,
        retyped=retyped,
        removed_nulls=tuple(path for path in removed if old[path] == {"null"}),
        truncated=cut,
    )


def _types_by_path(shape: Iterable[str]) -> dict[str, set[str]]:
    paths: dict[str, set[str]] = {}
    for entry in shape:
        path, _, kind = entry.rpartition(":")
        paths.setdefault(path, set()).add(kind)
    return paths
