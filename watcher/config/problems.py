"""Config mistakes in ctwatch's own words: every one at once, each naming key and value.

Why: a user who mistypes two keys should not have to run ctwatch three times
to find them, and pydantic's phrasing ("Input should be a valid tuple",
"Field required" for a key that is only misspelt) sends people looking in the
wrong place. Each :class:`Problem` is one line; an unknown key suggests the
nearest known one (``trails`` -> ``trials``), and the "required key is missing"
that the same typo causes is dropped, since it only hides the real mistake.
Values of secret keys are never shown.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from watcher.core.text import counted

MAX_PROBLEMS = 20
"""More than this many problems: the rest are counted, not listed."""


@dataclass(frozen=True)
class Problem:
    """One mistake: the dotted key (``watch[0].trials``) and what is wrong with it."""

    key: str
    message: str
    keyless: bool = False
    """The message names its place itself (unknown keys): no ``key:`` prefix."""
    shown: str = ""
    """The key as the user reads it (``watch "rectal-cancer".email``), when not ``key``."""

    def line(self, source: str) -> str:
        if self.keyless or not self.key:
            return f"{source}: {self.message}"
        return f"{source}: {self.shown or self.key}: {self.message}"


def dotted(loc: Sequence[str | int]) -> str:
    """``("watch", 0, "trials")`` -> ``watch[0].trials``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def shown_value(value: Any, limit: int = 80) -> str:
    """``repr`` of a value, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validation_problems(
    exc: ValidationError, data: Any, root: type[BaseModel], secret_keys: frozenset[str]
) -> list[Problem]:
    """Every pydantic error as a :class:`Problem`, typo'd keys first-class."""
    errors = exc.errors(include_url=False)
    problems: list[Problem] = []
    suggested: set[str] = set()
    for err in errors:
        if err["type"] == "extra_forbidden":
            problem, suggestion = _unknown_key(err, root)
            problems.append(problem)
            if suggestion is not None:
                suggested.add(suggestion)
    locs = [_loc(err) for err in errors]
    for err, loc in zip(errors, locs, strict=True):
        if err["type"] == "extra_forbidden" or (
            err["type"] == "missing" and dotted(loc) in suggested
        ):
            continue
        if any(len(other) > len(loc) and other[: len(loc)] == loc for other in locs):
            continue  # a list or table that failed because of an item named on its own line
        several = _several(err)
        if several:  # one line per part (every unknown parameter of a search URL)
            problems += [Problem(dotted(loc), message) for message in several]
        else:
            problems.append(_problem(err, loc, data, secret_keys))
    return problems


def _several(err: ErrorDetails) -> list[str]:
    """The parts of a ValueError that lists several problems (``problems``), if it does."""
    error = (err.get("ctx") or {}).get("error")
    parts = getattr(error, "problems", None)
    return [str(p) for p in parts] if isinstance(parts, list) and len(parts) > 1 else []


def _loc(err: ErrorDetails) -> tuple[str | int, ...]:
    return tuple(p for p in err["loc"] if isinstance(p, str | int))


def _unknown_key(err: ErrorDetails, root: type[BaseModel]) -> tuple[Problem, str | None]:
    """``unknown key 'trails' in watch[0] (did you mean 'trials'?)``; and the suggested key."""
    loc = _loc(err)
    name, parent = str(loc[-1]), loc[:-1]
    where = f"in {dotted(parent)}" if parent else "at the top level"
    model = model_at(root, parent)
    known = list(model.model_fields) if model is not None else []
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    message = f"unknown key {name!r} {where}{hint}"
    suggestion = dotted((*parent, close[0])) if close else None
    return Problem(dotted(loc), message, keyless=True), suggestion


def model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class that validates the table at ``loc`` (list indexes skipped)."""
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        model = _model_in(model.model_fields[part].annotation)
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model inside ``X``, ``X | None`` or ``tuple[X, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (tuple, list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


_WORDS = {
    "missing": "required key is missing",
    "string_type": "should be text in quotes",
    "int_type": "should be a whole number",
    "int_parsing": "should be a whole number",
    "int_from_float": "should be a whole number",
    "float_type": "should be a number",
    "float_parsing": "should be a number",
    "finite_number": "should be a finite number",
    "bool_type": "should be true or false",
    "bool_parsing": "should be true or false",
    "tuple_type": 'should be a list, e.g. ["a", "b"]',
    "list_type": 'should be a list, e.g. ["a", "b"]',
    "model_type": "should be a table (a [section] or { key = value })",
    "dict_type": "should be a table (a [section] or { key = value })",
    "string_too_short": "should not be empty",
}


def _words(err: ErrorDetails) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind in _WORDS:
        return _WORDS[kind]
    if kind in ("less_than_equal", "less_than"):
        return f"should be at most {_number(ctx.get('le', ctx.get('lt')))}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"should be at least {_number(ctx.get('ge', ctx.get('gt')))}"
    if kind == "too_short":
        count = ctx.get("min_length", 1)
        return f"should list at least {counted(count, 'item')}"
    if kind == "too_long":
        return f"should list at most {ctx.get('max_length')} items"
    if kind == "literal_error":
        return f"should be one of {ctx.get('expected')}"
    if kind in ("value_error", "assertion_error"):
        return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return "is not a valid value"


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _problem(
    err: ErrorDetails, loc: tuple[str | int, ...], data: Any, secret_keys: frozenset[str]
) -> Problem:
    message = _words(err)
    found, value = lookup(data, loc)
    secret = any(str(part) in secret_keys for part in loc)  # teams[0] is a secret too
    own_words = err["type"] == "value_error" and "'" in message  # it names the value already
    if found and not secret and err["type"] != "missing" and not own_words:
        shown = shown_value(value)
        if shown not in message:
            message = f"{message} (got {shown})"
    return Problem(dotted(loc), message)


def lookup(data: Any, loc: Iterable[str | int]) -> tuple[bool, Any]:
    """The value at ``loc`` in the raw TOML data, if there is one."""
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return False, None
    return True, data


def in_file_order(problems: Sequence[Problem], data: Any) -> list[Problem]:
    """Problems by where their key first appears in the file (a missing key: its table)."""
    order: dict[str, int] = {}

    def walk(value: Any, loc: tuple[str | int, ...]) -> None:
        order.setdefault(dotted(loc), len(order))
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*loc, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, (*loc, index))

    walk(data, ())

    def position(problem: Problem) -> int:
        key = problem.key
        while key not in order:
            cut = max(key.rfind("."), key.rfind("["))
            if cut <= 0:
                return len(order)
            key = key[:cut]
        return order[key]

    return sorted(problems, key=position)


def capped(problems: Sequence[Problem]) -> list[Problem]:
    """At most MAX_PROBLEMS, then one line counting the rest."""
    if len(problems) <= MAX_PROBLEMS:
        return list(problems)
    rest = len(problems) - MAX_PROBLEMS
    more = Problem("", f"... and {counted(rest, 'more problem')}")
    return [*problems[:MAX_PROBLEMS], more]
