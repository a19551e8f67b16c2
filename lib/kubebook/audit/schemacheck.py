"""JSON Schema validation that is fast when the input is valid and thorough when it is not.

``jsonschema`` can cost seconds to import (its format checkers pull in grammar
libraries), which would dominate a short ``kubebook audit``. Valid input, the
common case, is checked with a compiled ``fastjsonschema`` validator; only when
that fails is ``jsonschema`` imported to list every problem with its path.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import fastjsonschema


@functools.cache
def _compiled(schema_json: str) -> Any:
    return fastjsonschema.compile(json.loads(schema_json))


def problems(schema: dict[str, Any], data: Any) -> list[str]:
    """Every way ``data`` breaks ``schema`` as ``path: message`` (empty when valid)."""
    try:
        _compiled(json.dumps(schema, sort_keys=True))(data)
        return []
    except fastjsonschema.JsonSchemaException:
        pass
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    found = [f"{'/'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}"
             for e in validator.iter_errors(data)]
    return found or ["does not match the schema"]
