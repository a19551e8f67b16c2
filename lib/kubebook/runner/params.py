"""Validate run parameters against a notebook's ``kubebook.parameters`` JSON Schema.

Validation happens before a kernel starts, so a typo costs nothing but an error
message. Every problem is listed at once, each with the values the parameter
accepts, because fixing one problem per run is a slow way to learn a schema.

Values from the command line (``-p name value``) are strings. For a property whose
schema type is not ``string`` the string is parsed as YAML (as papermill's ``-y``
does), so ``-p replicas 3`` gives the integer 3, ``-p dry_run false`` a boolean and
``-p names '[a, b]'`` a list. A property that also accepts strings keeps the text
when the YAML value does not fit one of its other types.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from kubebook import schemamsg, yamlload
from kubebook.errors import ParameterError

JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}
REDACTED = "***REDACTED***"


def load_notebook_json(notebook: Path) -> dict[str, Any]:
    """The notebook as plain JSON; a clear ParameterError when it is missing or unreadable."""
    path = Path(notebook)
    if not path.is_file():
        raise ParameterError(f"notebook {path} does not exist", hint="pass the path of an .ipynb file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ParameterError(f"notebook {path} nests its JSON deeper than Python's parser goes",
                             hint="pass a Jupyter notebook (.ipynb); notebooks nest a few levels") from None
    except (OSError, ValueError) as error:
        raise ParameterError(f"notebook {path} is not readable JSON: {error}",
                             hint="pass a Jupyter notebook (.ipynb)") from error
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ParameterError(f"{path} is not a Jupyter notebook", hint="pass a Jupyter notebook (.ipynb)")
    return data


def parameter_schema(nb: dict[str, Any]) -> dict[str, Any]:
    """The notebook's parameter schema; notebooks without one accept only the names their cell assigns."""
    meta = nb.get("metadata", {}).get("kubebook", {})
    schema = meta.get("parameters") if isinstance(meta, dict) else None
    if isinstance(schema, dict) and schema.get("type") == "object":
        return schema
    from kubebook.conventions import parameter_names

    names: list[str] = []
    for cell in nb.get("cells", []):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            source = cell.get("source", "")
            names = parameter_names("".join(source) if isinstance(source, list) else source)
    return {"type": "object", "properties": {name: {} for name in names}, "additionalProperties": False}


def secret_names(schema: dict[str, Any]) -> set[str]:
    """Properties marked ``"secret": true`` or ``"writeOnly": true``: their values never reach a report."""
    return {name for name, prop in schema.get("properties", {}).items()
            if isinstance(prop, dict) and (prop.get("secret") is True or prop.get("writeOnly") is True)}


def _types(prop: dict[str, Any]) -> list[str]:
    declared = prop.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [t for t in declared if isinstance(t, str)]
    return []


def _fits(value: Any, types: list[str]) -> bool:
    for name in types:
        expected = JSON_TYPES.get(name, ())
        if isinstance(value, bool) and name in ("integer", "number"):
            continue  # YAML's true is not the number 1
        if isinstance(value, expected):
            return True
    return False


def coerce(value: Any, prop: dict[str, Any]) -> Any:
    """Turn a command-line string into the schema's type by YAML parsing; other values pass through."""
    if not isinstance(value, str):
        return value
    types = _types(prop)
    if types == ["string"]:
        return value
    if len(value.encode("utf-8", "surrogatepass")) > yamlload.MAX_VALUE_BYTES:
        raise yamlload.InputError(f"a -p value is longer than {yamlload.MAX_VALUE_BYTES} bytes",
                                  hint="pass large values with -f FILE")
    try:
        parsed = yamlload.parse(value, "a -p value") if value.strip() else value
    except yamlload.SyntaxProblem:
        return value  # the schema check then says what was expected
    if not types:
        return parsed
    if isinstance(parsed, int) and not isinstance(parsed, bool) and "number" in types \
            and "integer" not in types:
        return float(parsed)  # "-p ratio 1" means 1.0 for a number parameter
    if _fits(parsed, types):
        return parsed
    return value


def accepted(prop: dict[str, Any]) -> str:
    """A short description of what a property accepts, e.g. ``integer, 1 <= value <= 10``."""
    parts = [" or ".join(_types(prop)) or "any value"]
    if "enum" in prop:
        parts.append("one of " + ", ".join(json.dumps(v) for v in prop["enum"]))
    if "const" in prop:
        parts.append(f"exactly {json.dumps(prop['const'])}")
    low = prop.get("minimum", prop.get("exclusiveMinimum"))
    high = prop.get("maximum", prop.get("exclusiveMaximum"))
    if low is not None or high is not None:
        lo = "" if low is None else f"{low} {'<' if 'exclusiveMinimum' in prop else '<='} "
        hi = "" if high is None else f" {'<' if 'exclusiveMaximum' in prop else '<='} {high}"
        parts.append(f"{lo}value{hi}")
    for key, label in (("minLength", "at least {} characters"), ("maxLength", "at most {} characters"),
                       ("pattern", "matching /{}/"), ("minItems", "at least {} items"),
                       ("maxItems", "at most {} items"), ("format", "format {}")):
        if key in prop:
            parts.append(label.format(prop[key]))
    items = prop.get("items")
    if isinstance(items, dict) and _types(items):
        parts.append("items: " + accepted(items))
    return ", ".join(parts)


def validate_parameters(notebook: Path, parameters: dict[str, Any]) -> dict[str, Any]:
    """The effective parameters (schema defaults, then the given values coerced by type).

    Raises :class:`~kubebook.errors.ParameterError` listing every unknown name, wrong
    type, out-of-range value and missing required parameter, each with what it accepts.
    """
    return validate_against_schema(parameter_schema(load_notebook_json(notebook)), parameters,
                                   source=str(notebook))


def validate_against_schema(schema: dict[str, Any], parameters: dict[str, Any], *,
                            source: str = "the notebook") -> dict[str, Any]:
    """:func:`validate_parameters` for a schema already in hand."""
    properties: dict[str, Any] = schema.get("properties", {})
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name, value in (parameters or {}).items():
        yamlload.check_text(str(name), "a parameter name")
        if isinstance(value, str):
            yamlload.check_text(value, f"the value of parameter '{schemamsg.safe_key(name)}'")
        if name not in properties:
            known = ", ".join(sorted(properties)) or "none"
            problems.append(f"unknown parameter '{name}' (accepted parameters: {known})")
            continue
        values[name] = coerce(value, properties[name] if isinstance(properties[name], dict) else {})
    effective = {name: prop["default"] for name, prop in properties.items()
                 if isinstance(prop, dict) and "default" in prop}
    effective.update(values)
    problems.extend(_number_problems(values, properties))
    for problem in schemamsg.check(schema, effective):
        top = str(problem.path[0]) if problem.path else None
        if problem.keyword == "required":
            missing = problem.names[0] if problem.names else "?"
            prop = properties.get(missing, {})
            problems.append(f"missing required parameter '{missing}' (accepts {accepted(prop)})")
        elif problem.keyword == "additionalProperties":
            continue  # already reported as unknown with the accepted names
        elif top is None:
            problems.append(f"the parameters: {problem.text}")
        else:
            prop = properties.get(top, {})
            label = f"'{problem.where}'" + (" (secret)" if top in secret_names(schema) else "")
            problems.append(f"parameter {label}: {problem.text} (accepts {accepted(prop)})")
    if problems:
        raise ParameterError(
            f"{len(problems)} problem(s) with the parameters of {source}; no kernel was started",
            problems=problems,
            hint="-p values are parsed as YAML for non-string parameters; see --help-params",
        )
    return effective


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_non_finite(v) for v in value)
    return False


def _number_problems(values: dict[str, Any], properties: dict[str, Any]) -> list[str]:
    """NaN and infinities anywhere, and a float given for an integer (JSON Schema would take 3.0)."""
    problems = []
    for name, value in values.items():
        prop = properties.get(name) if isinstance(properties.get(name), dict) else {}
        label = schemamsg.safe_key(name)
        if _non_finite(value):
            problems.append(f"parameter '{label}': NaN and infinities are not numbers a runbook can use")
        elif isinstance(value, float) and "integer" in _types(prop) and "number" not in _types(prop):
            problems.append(f"parameter '{label}': must be integer, got number (write it without a "
                            f"fraction) (accepts {accepted(prop)})")
    return problems


def describe_parameters(notebook: Path) -> str:
    """Human-readable parameter list for ``kubebook run NOTEBOOK --help-params``."""
    nb = load_notebook_json(notebook)
    schema = parameter_schema(nb)
    secrets = secret_names(schema)
    required = set(schema.get("required", []))
    title = nb.get("metadata", {}).get("kubebook", {}).get("title") or Path(notebook).stem
    lines = [f"Parameters of {title} ({notebook}):"]
    properties = schema.get("properties", {})
    if not properties:
        lines.append("  (none)")
    for name, prop in properties.items():
        prop = prop if isinstance(prop, dict) else {}
        flags = [flag for flag, on in (("required", name in required), ("secret", name in secrets)) if on]
        if "default" in prop:
            default = REDACTED if name in secrets else json.dumps(prop["default"])
            flags.append(f"default {default}")
        lines.append(f"  {name}: {accepted(prop)}" + (f" [{'; '.join(flags)}]" if flags else ""))
        if prop.get("description"):
            lines.append(f"      {prop['description']}")
    lines.append("Pass with -p NAME VALUE (non-string values are parsed as YAML) or -f params.yaml.")
    return "\n".join(lines)


def load_params_file(path: Path) -> dict[str, Any]:
    """Parameters from a YAML (or JSON) mapping file; values keep their YAML types (bounded, see safeyaml)."""
    data = yamlload.load_file(path, f"parameters file {path}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(f"parameters file {path} holds a {type(data).__name__}, not a mapping",
                             hint="write one 'name: value' per line")
    return {str(k): v for k, v in data.items()}
