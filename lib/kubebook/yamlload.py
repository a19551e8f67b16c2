"""Every YAML read of kubebook: bounded for input from people, fast for manifests, one module.

Two doors, one module:

* **bounded** (:func:`read_text`, :func:`check`, :func:`parse`, :func:`parse_all`, :func:`load_file`,
  :func:`load_all_file`): parameter files and ``-p`` values, schedules.yaml, waivers files, the lab
  catalogue, overlay files. A careless or hostile input costs a one-line
  :class:`~kubebook.errors.ParameterError` (exit 2), never a traceback, a hang or a leaked secret:

  - size: at most ``max_bytes`` (:data:`MAX_FILE_BYTES`, 1 MiB, per file by default; 64 KiB per ``-p`` value);
  - text: UTF-8 only (no undecodable byte, no lone surrogate from a bad argv);
  - aliases: the document's *expanded* size (every alias counted as the copy it becomes) is at most
    :data:`MAX_NODES` nodes - a 451-byte "billion laughs" is refused at once instead of being walked
    for minutes by what comes next;
  - depth: at most :data:`MAX_DEPTH` nested collections;
  - integers: at most :data:`MAX_INT_DIGITS` digits (Python refuses to print longer ones);
  - keys: a mapping that names a key twice is refused (YAML says keys are unique; PyYAML keeps the last);
  - messages: the position and the problem, never the offending line, which may hold a secret.

* **fast** (:func:`load`): manifests under audit, exactly PyYAML's result in a fifth of the time.
  Parsing is most of a manifest audit: PyYAML's libyaml loader needs ~0.15 s of CPU for 1,200
  Kubernetes objects, ryaml (Rust, YAML 1.2) ~0.03 s. The two disagree only on plain scalars that
  YAML 1.1 resolves differently (``yes``/``on``/``off`` booleans, ``0644`` octal, ``1_000``, ``1:20``
  sexagesimal, dates, exponents without a dot, ``<<`` merge keys, ``=``) and on explicit tags, huge
  integers and duplicate keys. A cheap scan of the document text finds every such token; documents
  that have one, and documents ryaml rejects, go to PyYAML. So the result (and any error message) is
  always PyYAML's, which is also what kubectl's YAML 1.1 parser means for ``privileged: yes`` or
  ``defaultMode: 0644``. A false alarm (say "on" inside a description) only costs speed.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

from kubebook.errors import ParameterError

try:
    import ryaml
except ImportError:  # pragma: no cover - ryaml is a dependency; PyYAML alone is correct, just slower
    ryaml = None

# Candidates: a token that starts at the beginning of a line, after whitespace or a flow/mapping
# indicator. Booleans and numbers only matter when they are a whole plain scalar (checked by
# _whole_scalar: "uses no stat" in a description is prose, "privileged: no" is a boolean); dates
# (a timestamp may contain a space), merge keys, "=" and tags always send the document to PyYAML,
# and so does an anchor name defined twice (ryaml accepts it, PyYAML refuses it; anchors themselves
# are common: PyYAML's own dumps write them). Sexagesimal comes before the underscore form so that
# "1_212:30" is tried whole.
_START = r"(?<![^\s\[\]{},:])"
_END = r"(?![^\s\]},:#])"
_FIRST = r"(?=[-+.0-9<=!yYnNoO])"  # a character set first lets the regex engine skip ahead ~4x faster
_DIVERGENT = re.compile(
    _FIRST + _START + r"(?:(?P<scalar>"
    r"(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)" + _END +         # YAML 1.1 booleans
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?" + _END +     # sexagesimal 1:20, 1_212:30, 21:59:43.10
    r"|[-+]?0(?:[0-9_]+(?:\.[0-9_]*)?|[oO][0-7_]*|[bB][01_]*|[xX][0-9a-fA-F]*_[0-9a-fA-F_]*)" + _END +  # 0644, 0o17
    r"|[-+]?\.?[0-9][0-9.]*_[0-9_.]*(?:[eE][-+]?[0-9]+)?" + _END +    # underscores: 1_000, 1.2_3, .5_0
    r"|[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+" + _END +  # exponents 1e3, 1.5e+3, .5e5
    r"|[-+]\.[0-9][0-9_]*" + _END +         # signed .5
    r"|[-+]?[0-9]{19,}" + _END +           # integers beyond 64 bits
    r")|[0-9]{4}-[0-9]{1,2}-[0-9]"         # dates and timestamps
    r"|<<|=" + _END +                      # merge keys, the value key
    r"|!"                                  # explicit tags (!!binary, !!set, custom)
    r")")
_ANCHOR = re.compile(r"(?<![^\s\[\]{},:])&([^\s\[\]{},]+)")
_ALIAS = re.compile(r"(?<![^\s\[\]{},:])\*[^\s\[\]{},]")
# At most this many aliases in a document read by the fast door without the bounded check: PyYAML's dumps
# use a few (the audit corpus: at most 3), and 16 aliases expand a document at most ~360-fold, while a
# billion laughs needs dozens. More are checked with the bounds of check() first (a pure-Python pass).
FAST_ALIASES = 16
_AFTER = re.compile(r"[ \t]*(?:$|[\r\n#,\]}]|:(?:[ \t\r\n]|$))")
_BEFORE = re.compile(r"(?:^|[:?\[{,]|(?:^|\s)-|^---|(?:^|\s)&\S+)$")
# Characters PyYAML (YAML 1.1) treats as line breaks besides "\n", and the byte-order mark before
# which nothing counts as a line start: documents with any of them go to PyYAML whole.
_UNUSUAL = ("\r", "\x85", "\u2028", "\u2029", "\ufeff")


def _whole_scalar(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is a whole plain scalar: after an indicator (or alone) and ending there."""
    if not _AFTER.match(text, end):
        return False
    line_start = text.rfind("\n", 0, start) + 1
    return _BEFORE.search(text[line_start:start].rstrip(" \t")) is not None


def needs_pyyaml(text: str) -> bool:
    """Whether ``text`` may contain a scalar that YAML 1.1 (PyYAML) and YAML 1.2 (ryaml) read differently."""
    if any(mark in text for mark in _UNUSUAL):  # files read as text have "\n" lines only; these are rare
        return True
    if "&" in text:
        anchors = _ANCHOR.findall(text)
        if len(anchors) != len(set(anchors)):
            return True
    for match in _DIVERGENT.finditer(text):
        if match.group("scalar") is None or _whole_scalar(text, match.start(), match.end()):
            return True
    return False


def load(text: str) -> Any:
    """The one YAML document in ``text``, exactly as ``yaml.load(text, CSafeLoader)`` returns it.

    Raises ``yaml.YAMLError`` for invalid YAML (PyYAML's message); a document with more than
    :data:`FAST_ALIASES` aliases is first checked with the bounds of :func:`check` (:class:`InputError`).
    """
    if "*" in text and len(_ALIAS.findall(text)) > FAST_ALIASES:  # an alias bomb is refused, not expanded later
        with contextlib.suppress(SyntaxProblem):  # not YAML at all: PyYAML words it below, as for any document
            check(text, "a YAML document", multi=True)
    if ryaml is not None and not needs_pyyaml(text):
        try:
            return ryaml.loads(text)
        except Exception:  # let PyYAML decide and word the error (duplicate keys, bad syntax)
            pass
    import yaml  # imported on first need: most manifests never need it (10-20 ms of a 0.25 s audit)

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # CSafeLoader/SafeLoader only


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
        raise InputError(f"{what} is more than {max_bytes} bytes (the most that is read)",
                         hint="this file is read whole: keep it small, pass large data by reference")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{what} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})",
                         hint="save the file as UTF-8") from None


def read_text(path: str | Path, what: str | None = None, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of the file ``path``, of at most ``max_bytes`` (never reading more than one byte past)."""
    label = what or str(path)
    try:
        with open(Path(path).expanduser(), "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise InputError(f"cannot read {label}: {error.strerror or type(error).__name__}",
                         hint="check the path and its permissions") from None
    return decode(data, label, max_bytes)


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "an unknown position"


def _check_tree(node: Any, what: str) -> None:
    """Expanded size, depth, duplicate keys and integer length of a composed document."""
    import yaml

    sizes: dict[int, int] = {}

    def walk(current: Any, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise InputError(f"{what} nests deeper than {MAX_DEPTH} levels at {_where(current.start_mark)}",
                             hint=f"flatten it: at most {MAX_DEPTH} nested lists or mappings")
        known = sizes.get(id(current))
        if known is not None:
            return known  # an alias: counted again (as the copy it becomes) without walking it again
        total = 1
        if isinstance(current, yaml.ScalarNode):
            if current.tag == _INT_TAG and len(_DIGITS.findall(current.value)) > MAX_INT_DIGITS:
                raise InputError(f"{what} has an integer of more than {MAX_INT_DIGITS} digits at "
                                 f"{_where(current.start_mark)}", hint="quote it if it is a string")
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


def _documents(text: str, what: str, *, single: bool, construct: bool) -> list[Any]:
    """Compose (and construct) the documents of ``text`` within the bounds; PyYAML's errors as one line."""
    import yaml

    check_text(text, what)
    loader = yaml.SafeLoader(text)
    try:
        nodes = [loader.get_single_node()] if single else []
        while not single and loader.check_node():  # check_node drops the stream start first
            nodes.append(loader.get_node())
        found = []
        for node in nodes:
            if node is None:
                found.append(None)
                continue
            _check_tree(node, what)
            found.append(loader.construct_document(node) if construct else None)
        return found
    except yaml.MarkedYAMLError as error:
        problem = error.problem or error.context or "invalid YAML"
        started = (f" ({error.context} at {_where(error.context_mark)})"
                   if error.context and error.problem and error.context_mark is not None else "")
        raise SyntaxProblem(f"{what} is not valid YAML: {problem} at {_where(error.problem_mark)}{started}",
                            hint="fix the YAML at that position") from None
    except yaml.YAMLError as error:
        raise SyntaxProblem(f"{what} is not valid YAML ({type(error).__name__})") from None
    except RecursionError:  # composing recurses once per level: thousands of levels never reach _check_tree
        raise InputError(f"{what} nests deeper than {MAX_DEPTH} levels",
                         hint=f"flatten it: at most {MAX_DEPTH} nested lists or mappings") from None
    except (ValueError, OverflowError) as error:
        raise InputError(f"{what} holds a value that cannot be read ({type(error).__name__})") from None
    finally:
        loader.dispose()


def check(text: str, what: str, *, multi: bool = False) -> None:
    """Refuse ``text`` (one document, or several with ``multi``) beyond the bounds, constructing nothing:
    for loaders that keep their own construction and messages (the waivers file's dates)."""
    _documents(text, what, single=not multi, construct=False)


def parse(text: str, what: str) -> Any:
    """The YAML document in ``text`` (safe types only), within the bounds above."""
    return _documents(text, what, single=True, construct=True)[0]


def parse_all(text: str, what: str) -> list[Any]:
    """Every YAML document in ``text`` (empty ones as None), within the bounds above."""
    return _documents(text, what, single=False, construct=True)


def load_file(path: str | Path, what: str | None = None, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """:func:`parse` of a file, read with the size bound."""
    label = what or str(path)
    return parse(read_text(path, label, max_bytes), label)


def load_all_file(path: str | Path, what: str | None = None, max_bytes: int = MAX_FILE_BYTES) -> list[Any]:
    """:func:`parse_all` of a file, read with the size bound."""
    label = what or str(path)
    return parse_all(read_text(path, label, max_bytes), label)


def __getattr__(name: str) -> Any:
    """``yamlload.YAMLError`` is PyYAML's, imported only when an ``except`` clause evaluates it."""
    if name == "YAMLError":
        import yaml

        return yaml.YAMLError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
