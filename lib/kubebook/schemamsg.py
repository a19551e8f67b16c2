"""JSON Schema errors as one-line messages that never echo the instance's values.

``jsonschema``'s own messages quote the failing value (``'hunter2' is too
short``, or the whole object for a keyword at the root such as
``maxProperties``). The values kubebook validates are run parameters and
configuration files, and some are secrets, so every message here is built from
the *schema* (what was expected), the failing location and the instance's JSON
type only. Keys of the instance appear (an unknown field has to be named to be
fixed), cut to a printable, bounded form.

Valid input, the common case, is checked by a compiled ``fastjsonschema``
validator (cached per schema); ``jsonschema`` is imported only when that fails,
to list every problem with its path.
"""

from __future__ import annotations

import functools
import json
from typing import Any, NamedTuple

import fastjsonschema

__all__ = ["Problem", "check", "is_valid", "json_type", "lines", "safe_key"]

MAX_KEY_CHARS = 60


class Problem(NamedTuple):
    """One way an instance breaks a schema.

    ``path`` is the location (keys and indexes), ``keyword`` the failing JSON Schema
    keyword, ``text`` a sentence without the location (e.g. ``must be integer, got
    string``), ``names`` the property names involved (missing ones for ``required``,
    unknown ones for ``additionalProperties``) and ``schema`` the failing subschema.
    """

    path: tuple[str | int, ...]
    keyword: str
    text: str
    names: tuple[str, ...] = ()
    schema: Any = None

    @property
    def where(self) -> str:
        """The location as ``a.b.0`` (``(top level)`` for the root)."""
        return ".".join(safe_key(p) if isinstance(p, str) else str(p) for p in self.path) or "(top level)"

    def line(self) -> str:
        """``where: text`` on one line."""
        return f"{self.where}: {self.text}"


def safe_key(key: Any) -> str:
    """A key as printable text of bounded length (keys are shown, values never)."""
    text = str(key) if isinstance(key, str | int) else type(key).__name__
    text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= MAX_KEY_CHARS else text[:MAX_KEY_CHARS] + "..."


def json_type(value: Any) -> str:
    """The JSON type name of a Python value."""
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
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


@functools.lru_cache(maxsize=64)
def _compiled(schema_json: str, formats: bool) -> Any:
    try:
        return fastjsonschema.compile(json.loads(schema_json), use_formats=formats)
    except Exception:  # a schema fastjsonschema cannot compile: jsonschema alone decides
        return None


def is_valid(schema: dict[str, Any], instance: Any, *, formats: bool = False) -> bool | None:
    """True/False from the compiled validator; None when it cannot decide (then use :func:`check`)."""
    try:
        validate = _compiled(json.dumps(schema, sort_keys=True, default=str), formats)
    except (TypeError, ValueError):
        return None
    if validate is None:
        return None
    try:
        validate(instance)
        return True
    except fastjsonschema.JsonSchemaException:
        return False
    except Exception:  # e.g. an integer too long to print inside the generated code
        return None


def check(schema: dict[str, Any], instance: Any, *, formats: bool = False) -> list[Problem]:
    """Every problem of ``instance`` against ``schema``, sorted by location (empty when valid)."""
    if is_valid(schema, instance, formats=formats):
        return []
    import jsonschema

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    checker = jsonschema.FormatChecker() if formats else None
    validator = cls(schema, format_checker=checker)
    found = []
    try:
        for error in validator.iter_errors(instance):
            found.append(_problem(error))
    except ValueError as error:  # e.g. "Exceeds the limit for integer string conversion"
        return [Problem((), "invalid", f"cannot be checked ({type(error).__name__})")]
    found.sort(key=lambda p: [str(x) for x in p.path])
    if not found and is_valid(schema, instance, formats=formats) is False:
        found.append(Problem((), "schema", "does not match the schema"))
    return found


def lines(schema: dict[str, Any], instance: Any, *, formats: bool = False) -> list[str]:
    """:func:`check` as ``where: text`` strings."""
    return [problem.line() for problem in check(schema, instance, formats=formats)]


def _show(value: Any) -> str:
    """A schema value (never an instance value) for a message, kept short."""
    try:
        text = json.dumps(value, ensure_ascii=True, default=str)
    except (TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _problem(error: Any) -> Problem:
    keyword = str(error.validator)
    expected = error.validator_value
    instance = error.instance
    sub = error.schema if isinstance(error.schema, dict) else {}
    path = tuple(error.absolute_path)
    names: tuple[str, ...] = ()
    if keyword == "required":
        missing = [n for n in expected if isinstance(instance, dict) and n not in instance]
        names = tuple(safe_key(n) for n in missing[:1] or expected[:1])
        text = f"'{names[0]}' is required" if names else "a required property is missing"
    elif keyword == "additionalProperties":
        allowed = set(sub.get("properties", {}))
        patterns = sub.get("patternProperties", {})
        extra = [k for k in (instance if isinstance(instance, dict) else {})
                 if k not in allowed and not any(_matches(p, k) for p in patterns)]
        names = tuple(safe_key(k) for k in extra)
        text = "unknown " + ("property " if len(names) == 1 else "properties ") + \
            ", ".join(f"'{n}'" for n in names)
    elif keyword == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else str(expected)
        text = f"must be {wanted}, got {json_type(instance)}"
    elif keyword == "enum":
        text = "must be one of " + ", ".join(_show(v) for v in expected)
    elif keyword == "const":
        text = f"must be exactly {_show(expected)}"
    elif keyword in _BOUNDS:
        text = _BOUNDS[keyword].format(_show(expected))
    elif keyword == "pattern":
        text = f"must match /{expected}/"
    elif keyword == "format":
        text = f"must be a valid {expected}"
    elif keyword == "uniqueItems":
        text = "must not repeat items"
    elif keyword in ("anyOf", "oneOf"):
        text = "does not match " + ("exactly one" if keyword == "oneOf" else "any") + " of the allowed forms"
    elif keyword == "not":
        text = "matches a form that is not allowed"
    elif keyword == "dependentRequired" or keyword == "dependencies":
        text = "is missing a property another one requires"
    else:
        text = f"does not satisfy '{keyword}'"
    return Problem(path, keyword, text, names, sub)


_BOUNDS = {
    "minimum": "must be >= {}", "maximum": "must be <= {}",
    "exclusiveMinimum": "must be > {}", "exclusiveMaximum": "must be < {}",
    "multipleOf": "must be a multiple of {}",
    "minLength": "must have at least {} characters", "maxLength": "must have at most {} characters",
    "minItems": "must have at least {} items", "maxItems": "must have at most {} items",
    "minProperties": "must have at least {} properties", "maxProperties": "must have at most {} properties",
}


def _matches(pattern: str, key: str) -> bool:
    import re

    try:
        return re.search(pattern, key) is not None
    except re.error:
        return False
