"""YAML and text from users, read with bounds and refused in one line.

Parameter files (``-f``), ``-p`` values and schedules.yaml come from people and
from automation; a careless or hostile one must cost a short error, never a
traceback, a hang or a leaked secret:

* size: at most ``max_bytes`` (1 MiB for files by default, 64 KiB per ``-p`` value);
* text: UTF-8 only (no undecodable byte, no lone surrogate from a bad argv);
* aliases: the document's *expanded* size (every alias counted as the copy it
  becomes) is at most :data:`MAX_NODES` nodes - a 451-byte "billion laughs" is
  refused at once instead of being walked for minutes by what comes next;
* depth: at most :data:`MAX_DEPTH` nested collections;
* integers: at most :data:`MAX_INT_DIGITS` digits (Python refuses to print
  longer ones, which used to surface as a traceback much later);
* keys: a mapping that names a key twice is refused (YAML says keys are unique;
  PyYAML silently keeps the last);
* messages: the position and the problem, never the offending line, which may
  hold a secret.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from kubebook.errors import ParameterError

MAX_FILE_BYTES = 1024 * 1024
MAX_VALUE_BYTES = 64 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64
MAX_INT_DIGITS = 64
_INT_TAG = "tag:yaml.org,2002:int"
_DIGITS = re.compile(r"[0-9a-fA-F]")


class InputError(ParameterError):
    """A bad input file or value; nothing was started."""


class SyntaxProblem(InputError):
    """The text is not YAML at all (as opposed to YAML beyond a bound)."""


def check_text(text: str, what: str) -> str:
    """``text`` unchanged, or an InputError when it holds a lone surrogate (undecodable bytes in argv)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InputError(f"{what} is not valid UTF-8 (an undecodable byte at character {error.start + 1})",
                         hint="pass text in UTF-8") from None
    return text


def decode(data: bytes, what: str, max_bytes: int = MAX_FILE_BYTES) -> str:
    """UTF-8 text of ``data`` within ``max_bytes``; a one-line InputError otherwise."""
    if len(data) > max_bytes:
        raise InputError(f"{what} is {len(data)} bytes; at most {max_bytes} are read",
                         hint="parameters and schedules are small; pass large data by reference")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{what} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})",
                         hint="save the file as UTF-8") from None


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "an unknown position"


def _check_tree(node: yaml.Node, what: str) -> None:
    """Expanded size, depth, duplicate keys and integer length of a composed document."""
    sizes: dict[int, int] = {}

    def walk(current: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise InputError(f"{what} nests deeper than {MAX_DEPTH} levels at {_where(current.start_mark)}")
        known = sizes.get(id(current))
        if known is not None:
            return known  # an alias: counted again (as the copy it becomes) without walking it again
        total = 1
        if isinstance(current, yaml.ScalarNode):
            if current.tag == _INT_TAG and len(_DIGITS.findall(current.value)) > MAX_INT_DIGITS:
                raise InputError(f"{what} has an integer of more than {MAX_INT_DIGITS} digits at "
                                 f"{_where(current.start_mark)}")
        elif isinstance(current, yaml.SequenceNode):
            for item in current.value:
                total += walk(item, depth + 1)
        elif isinstance(current, yaml.MappingNode):
            seen: set[tuple[str, str]] = set()
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode):
                    ident = (key.tag, key.value)
                    if ident in seen:
                        shown = key.value if len(key.value) <= 60 else key.value[:60] + "..."
                        raise InputError(f"{what} names the key '{shown}' more than once "
                                         f"(again at {_where(key.start_mark)})", hint="keep one of them")
                    seen.add(ident)
                total += walk(key, depth + 1) + walk(value, depth + 1)
        sizes[id(current)] = total
        if total > MAX_NODES:
            raise InputError(f"{what} expands to more than {MAX_NODES} values (YAML aliases?)",
                             hint="write the values out; anchors and aliases are expanded on reading")
        return total

    walk(node, 0)


def load(text: str, what: str) -> Any:
    """The YAML document in ``text`` (safe types only), within the bounds above."""
    check_text(text, what)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_tree(node, what)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        problem = error.problem or error.context or "invalid YAML"
        started = (f" ({error.context} at {_where(error.context_mark)})"
                   if error.context and error.problem and error.context_mark is not None else "")
        raise SyntaxProblem(f"{what} is not valid YAML: {problem} at {_where(error.problem_mark)}{started}",
                         hint="fix the YAML at that position") from None
    except yaml.YAMLError as error:
        raise SyntaxProblem(f"{what} is not valid YAML ({type(error).__name__})") from None
    except (ValueError, OverflowError, RecursionError) as error:
        raise InputError(f"{what} holds a value that cannot be read ({type(error).__name__})") from None
    finally:
        loader.dispose()


def load_file(path: Any, what: str | None = None, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """:func:`load` of a file, read with the size bound."""
    from pathlib import Path

    label = what or str(path)
    try:
        with open(Path(path), "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise InputError(f"cannot read {label}: {error.strerror or type(error).__name__}",
                         hint="check the path and its permissions") from None
    return load(decode(data, label, max_bytes), label)
