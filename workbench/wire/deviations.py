"""Validator errors as deviations: the JSON path, what the spec requires and what came, in safe words.

What an endpoint sends is untrusted. A deviation never holds a body: `got` is a kind ("a string",
"an object", "absent") except where the spec names the allowed values (an enum), and then at most
40 characters of the value, JSON-escaped (no control characters). A key the schema does not name
(a map's key, chosen by the endpoint) is shown the same way in `path` and counted as `[*]`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from workbench.wire.specschema import MAX_SCHEMA_DEPTH, VendoredSchema, one_of, type_words

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

LIMIT_FIELD: Final = "(limit)"  # path and field of the entry that says the checker stopped
VALUE_CHARS: Final = 40  # of a value from the endpoint, at most, in a deviation

Step = str | int
Path = tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Deviation:
    """One place where a body departs from the spec."""

    path: str  # concrete JSON path: "choices[0].delta.tool_calls[0].index" ("$" is the body itself)
    field: str  # the path without indices, to count by: "choices[].delta.tool_calls[].index"
    required: str  # what the spec requires, in words: "integer", "a required field", "one of stop, ..."
    got: str  # what came, short and safe: '""', "a string", "absent", "an object"

    @property
    def is_limit(self) -> bool:
        """The entry that says the checker stopped (more deviations, or a body too large to explain)."""
        return self.field == LIMIT_FIELD


@dataclass(frozen=True, slots=True)
class FieldCount:
    """How often one field deviated, with the first deviation's words."""

    required: str
    got: str
    count: int


def count_by_field(deviations: Iterable[Deviation]) -> dict[str, FieldCount]:
    """Field -> what it requires, what came first, and how many times, in order of first appearance."""
    counts: dict[str, FieldCount] = {}
    for deviation in deviations:
        seen = counts.get(deviation.field)
        if seen is None:
            counts[deviation.field] = FieldCount(deviation.required, deviation.got, 1)
        else:
            counts[deviation.field] = replace(seen, count=seen.count + 1)
    return counts


@dataclass(frozen=True, slots=True)
class Found:
    """A deviation as the checker keeps it: for an enum, `value_at` says where each body's `got` is."""

    deviation: Deviation
    value_at: Path | None = None

    def render(self, body: Any) -> Deviation:
        """The deviation for this body (of the shape it was found in): an enum's `got` read from it."""
        if self.value_at is None:
            return self.deviation
        node = body
        try:
            for step in self.value_at:
                node = node[step]
        except (LookupError, TypeError):
            return replace(self.deviation, got="a value")
        return replace(self.deviation, got=quote(node) if isinstance(node, str) else kind(node))


def limit(required: str, got: str) -> Found:
    """The entry that says where the checker stopped."""
    return Found(Deviation(LIMIT_FIELD, LIMIT_FIELD, required, got))


class Explained:
    """jsonschema's errors for one body, as deviations by path; a wrong type outranks a wrong value."""

    def __init__(self, schema: VendoredSchema) -> None:
        self._schema = schema
        self._found: dict[Path, tuple[int, Found]] = {}

    def __len__(self) -> int:
        return len(self._found)

    def ordered(self) -> list[Found]:
        """In path order (array indices as numbers)."""
        return [found for _, (_, found) in sorted(self._found.items(), key=lambda pair: _order(pair[0]))]

    def add(self, error: ValidationError) -> None:
        path: Path = tuple(error.absolute_path)
        validator, value = error.validator, error.validator_value
        if validator in ("anyOf", "oneOf"):
            branch = _branch(error)
            if branch is None:
                self._put(path, 0, self._schema.describe(error.schema), kind(error.instance))
            for sub in branch or ():
                self.add(sub)
        elif validator == "required":
            if isinstance(error.instance, Mapping):
                for name in value:
                    if name not in error.instance:
                        self._put((*path, name), 0, "a required field", "absent")
        elif validator == "type":
            self._put(path, 0, type_words(value), kind(error.instance))
        elif validator in ("enum", "const"):
            self._put(path, 1, one_of(value if validator == "enum" else [value]), None)
        else:
            self._put(path, 2, f"what the schema's {validator!r} allows", kind(error.instance))

    def _put(self, path: Path, rank: int, required: str, got: str | None) -> None:
        """`got` None: the value itself is shown, read from each body (`Found.render`)."""
        if path in self._found and self._found[path][0] <= rank:
            return
        deviation = Deviation(*path_text(path, self._schema.names), required, got or "")
        self._found[path] = (rank, Found(deviation, path if got is None else None))


def first_deviation(
    error: Any, body: Any, schema: VendoredSchema, branch_error: Callable[[Any, Any], Any | None]
) -> Found:
    """fastjsonschema's first error as a deviation.

    It stops at an `anyOf`/`oneOf` no branch takes, so the branch the value was meant for is
    validated on its own (`branch_error(branch, value)`: its first error, or None), down to the field.
    """
    path: list[Step] = []
    node = _follow(body, error, path)
    rule, definition = error.rule, error.rule_definition
    for _ in range(MAX_SCHEMA_DEPTH):
        branch = _meant(schema, definition, node) if rule in ("anyOf", "oneOf") else None
        inner = None if branch is None else branch_error(branch, node)
        if inner is None:
            break
        node = _follow(node, inner, path)
        rule, definition = inner.rule, inner.rule_definition
    at = tuple(path)
    if rule == "required" and isinstance(node, Mapping):
        missing = next((name for name in definition if name not in node), "")
        return Found(Deviation(*path_text((*at, missing), schema.names), "a required field", "absent"))
    if rule in ("enum", "const"):
        allowed = definition if rule == "enum" else [definition]
        return Found(Deviation(*path_text(at, schema.names), one_of(allowed), ""), at)
    if rule == "type":
        required = type_words(definition)
    elif rule in ("anyOf", "oneOf"):
        required = schema.describe({rule: definition})
    else:
        required = f"what the schema's {rule!r} allows"
    return Found(Deviation(*path_text(at, schema.names), required, kind(node)))


def path_text(path: Path, names: frozenset[str]) -> tuple[str, str]:
    """The concrete path and the path to count by; keys outside `names` are quoted, counted as `[*]`."""
    if not path:
        return "$", "$"
    concrete: list[str] = []
    counted: list[str] = []
    for step in path:
        if isinstance(step, int):
            concrete.append(f"[{step}]")
            counted.append("[]")
        elif step in names:
            concrete.append(f".{step}" if concrete else step)
            counted.append(f".{step}" if counted else step)
        else:
            concrete.append(f"[{quote(step)}]")
            counted.append("[*]")
    return "".join(concrete), "".join(counted)


def quote(text: str) -> str:
    """At most `VALUE_CHARS` characters of a text from outside, JSON-escaped (no control characters)."""
    if len(text) <= VALUE_CHARS:
        return json.dumps(text)
    return json.dumps(text[: VALUE_CHARS - 1])[:-1] + '…"'


def kind(value: Any) -> str:
    """What a value is, never what it says: 'a string', 'an object', 'null'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _branch(error: ValidationError) -> list[ValidationError] | None:
    """The errors of the `anyOf`/`oneOf` branch the value was meant for, or None when none fits.

    A branch fits when it takes the value's type; among several, one whose enum fields one level
    down (a tool call's `type`) the value matches, then the one with the fewest errors, then the first.
    """
    groups = _groups(error.context)
    fitting = [index for index in sorted(groups) if _fits(groups[index])]
    if not fitting:
        return None
    undisputed = [
        index
        for index in fitting
        if not any(e.validator in ("enum", "const") and len(e.relative_path) == 1 for e in groups[index])
    ]
    return groups[min(undisputed or fitting, key=lambda index: (len(groups[index]), index))]


def _groups(context: Iterable[ValidationError]) -> dict[int, list[ValidationError]]:
    """An `anyOf`/`oneOf` error's context, by branch."""
    groups: dict[int, list[ValidationError]] = {}
    for sub in context:
        groups.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    return groups


def _fits(errors: Iterable[ValidationError]) -> bool:
    """Whether a branch with these errors takes the value's type."""
    for error in errors:
        if error.relative_path:
            continue
        if error.validator == "type":
            return False
        nested = error.validator in ("anyOf", "oneOf") and error.context
        if nested and not any(_fits(group) for group in _groups(error.context).values()):
            return False
    return True


def _meant(schema: VendoredSchema, branches: Any, node: Any) -> Any:
    """Of fastjsonschema's branches, the one `node` was meant for (the same choice as `_branch`)."""
    fitting = [branch for branch in branches if schema.takes_type(branch, node)]
    for branch in fitting:
        properties = schema.resolved(branch).get("properties", {})
        if isinstance(node, Mapping) and all(
            name not in node or node[name] in schema.resolved(sub).get("enum", [node[name]])
            for name, sub in properties.items()
        ):
            return branch
    return fitting[0] if fitting else None


def _follow(node: Any, error: Any, path: list[Step]) -> Any:
    """The value a fastjsonschema error points at; its steps (array indices as text) go on `path`."""
    for step in list(error.path)[1:]:  # the first names the value validated itself ("data")
        if isinstance(node, list):
            index = int(step)
            node = node[index] if 0 <= index < len(node) else None
            path.append(index)
        else:
            node = node.get(step) if isinstance(node, Mapping) else None
            path.append(step)
    return node


def _order(path: Path) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, step) if isinstance(step, int) else (1, step) for step in path)


@dataclass(frozen=True, slots=True)
class SpecDeviation:
    """One field's departure from the spec in one answer: its first occurrence and how many there were
    (a stream of 2,000 chunks with the same departure is one entry counted 2,000 times)."""

    path: str  # the first concrete path
    field: str
    required: str
    got: str
    count: int
    absent_nullable: bool = False  # a required field left out where the spec allows null

    def words(self) -> str:
        """What is wrong, in words: "required by the spec, absent", or "the spec requires integer, got
        a string"."""
        times = f" ({self.count} times)" if self.count > 1 else ""
        if self.got == "absent" and self.required == "a required field":
            return f"required by the spec, absent{times}"
        return f"the spec requires {self.required}, got {self.got}{times}"

    def describe(self) -> str:
        return f"{self.path}: {self.words()}"

    def to_fact(self) -> dict[str, object]:
        fact: dict[str, object] = {
            "path": self.path,
            "field": self.field,
            "required": self.required,
            "got": self.got,
            "count": self.count,
        }
        if self.absent_nullable:
            fact["absent_nullable"] = True
        return fact


class DeviationTally:
    """Deviations of one answer (a body, or every chunk of a stream) counted by field, bounded: at most
    `MAX_FIELDS` fields are kept, the rest counted under the limit entry."""

    MAX_FIELDS: Final = 50

    def __init__(self, nullable: Callable[[str], bool] | None = None) -> None:
        self._first: dict[str, Deviation] = {}
        self._counts: dict[str, int] = {}
        self._nullable = nullable  # field -> whether the spec allows null there

    def add(self, deviations: Iterable[Deviation]) -> None:
        for deviation in deviations:
            field = deviation.field
            if field not in self._first:
                if len(self._first) >= self.MAX_FIELDS:
                    field = LIMIT_FIELD
                    deviation = Deviation(LIMIT_FIELD, LIMIT_FIELD, "at most this many fields", "more")
                self._first.setdefault(field, deviation)
            self._counts[field] = self._counts.get(field, 0) + 1

    def seen(self) -> tuple[SpecDeviation, ...]:
        return tuple(
            SpecDeviation(
                first.path,
                field,
                first.required,
                first.got,
                self._counts[field],
                absent_nullable=first.got == "absent"
                and self._nullable is not None
                and self._nullable(field),
            )
            for field, first in self._first.items()
        )
