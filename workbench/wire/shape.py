"""Response-shape signatures: which JSON paths a response has and of what type, never the values.

A signature is a sorted tuple of `path:type` entries (`choices[].message.content:string`), so two
runs, two releases or staging and production compare field by field without comparing generated
text, ids or timestamps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def shape_of(value: Any, prefix: str = "") -> tuple[str, ...]:
    """The signature of a decoded JSON value."""
    entries: set[str] = set()
    _walk(value, prefix, entries)
    return tuple(sorted(entries))


def merge_shapes(shapes: Iterable[Iterable[str]]) -> tuple[str, ...]:
    """The union of several signatures (e.g. all chunks of a stream)."""
    merged: set[str] = set()
    for shape in shapes:
        merged.update(shape)
    return tuple(sorted(merged))


def _type_name(value: Any) -> str:
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


def _walk(value: Any, path: str, entries: set[str]) -> None:
    entries.add(f"{path or '$'}:{_type_name(value)}")
    if isinstance(value, Mapping):
        for key, child in value.items():
            _walk(child, f"{path}.{key}" if path else str(key), entries)
    elif isinstance(value, list):
        for child in value:
            _walk(child, f"{path}[]", entries)


@dataclass(frozen=True, slots=True)
class ShapeDiff:
    """How signature `after` differs from `before`: fields added, removed, or seen with other types."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    retyped: tuple[str, ...]  # "path: before-types -> after-types"
    removed_nulls: tuple[str, ...] = ()  # the removed paths that were only ever null (null -> absent)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.retyped)


def diff_shapes(before: Iterable[str], after: Iterable[str]) -> ShapeDiff:
    """Compare two signatures by path; a path whose set of types changed is 'retyped'."""
    old, new = _types_by_path(before), _types_by_path(after)
    retyped = tuple(
        f"{path}: {'|'.join(sorted(old[path]))} -> {'|'.join(sorted(new[path]))}"
        for path in sorted(old.keys() & new.keys())
        if old[path] != new[path]
    )
    removed = tuple(sorted(old.keys() - new.keys()))
    return ShapeDiff(
        added=tuple(sorted(new.keys() - old.keys())),
        removed=removed,
        retyped=retyped,
        removed_nulls=tuple(path for path in removed if old[path] == {"null"}),
    )


def _types_by_path(shape: Iterable[str]) -> dict[str, set[str]]:
    paths: dict[str, set[str]] = {}
    for entry in shape:
        path, _, kind = entry.rpartition(":")
        paths.setdefault(path, set()).add(kind)
    return paths
