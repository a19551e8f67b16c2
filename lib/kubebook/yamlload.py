"""Load one YAML document fast, with exactly PyYAML's result.

Parsing is most of a manifest audit: PyYAML's libyaml loader needs ~0.15 s of
CPU for 1,200 Kubernetes objects, ryaml (Rust, YAML 1.2) ~0.03 s. The two
disagree only on plain scalars that YAML 1.1 resolves differently (``yes``/
``on``/``off`` booleans, ``0644`` octal, ``1_000``, ``1:20`` sexagesimal, dates,
exponents without a dot, ``<<`` merge keys, ``=``) and on explicit tags, huge
integers and duplicate keys. A cheap scan of the document text finds every such
token; documents that have one, and documents ryaml rejects, go to PyYAML. So
the result (and any error message) is always PyYAML's, which is also what
kubectl's YAML 1.1 parser means for ``privileged: yes`` or ``defaultMode: 0644``.
A false alarm (say "on" inside a description) only costs speed.
"""

from __future__ import annotations

import re
from typing import Any

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

    Raises ``yaml.YAMLError`` for invalid YAML (PyYAML's message).
    """
    if ryaml is not None and not needs_pyyaml(text):
        try:
            return ryaml.loads(text)
        except Exception:  # let PyYAML decide and word the error (duplicate keys, bad syntax)
            pass
    import yaml  # imported on first need: most manifests never need it (10-20 ms of a 0.25 s audit)

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # CSafeLoader/SafeLoader only


def __getattr__(name: str) -> Any:
    """``yamlload.YAMLError`` is PyYAML's, imported only when an ``except`` clause evaluates it."""
    if name == "YAMLError":
        import yaml

        return yaml.YAMLError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
