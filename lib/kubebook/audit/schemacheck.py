"""JSON Schema validation of the audit's own data files (check catalog, waivers), fast when they are valid.

Valid input, the common case, is decided by :func:`kubebook.schemamsg.is_valid` (a
compiled ``fastjsonschema`` validator, cached: ``jsonschema`` can cost seconds to
import, which would dominate a short ``kubebook audit``). Only when that fails is
``jsonschema`` imported to list every problem with its path. These files are
policy, not secrets, so the messages may quote their values (unlike run
parameters, whose messages come from :mod:`kubebook.schemamsg` alone).
"""

from __future__ import annotations

from typing import Any

from kubebook.schemamsg import is_valid


def problems(schema: dict[str, Any], data: Any) -> list[str]:
    """Every way ``data`` breaks ``schema`` as ``path: message`` (empty when valid)."""
    if is_valid(schema, data, formats=True):
        return []
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    found = [f"{'/'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}"
             for e in validator.iter_errors(data)]
    return found or ["does not match the schema"]
