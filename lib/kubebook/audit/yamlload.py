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

import yaml

try:
    import ryaml
except ImportError:  # pragma: no cover - ryaml is a dependency; PyYAML alone is correct, just slower
    ryaml = None

_PyYAMLLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# A plain-scalar token starts at the beginning of a line, after whitespace or a flow/mapping indicator,
# and (for the numeric forms) ends at whitespace, a flow indicator, a colon or a comment.
_START = r"(?<![^\s\[\]{},:])"
_END = r"(?![^\s\]},:#])"
_FIRST = r"(?=[-+0-9<=!yYnNoO])"  # a character set first lets the regex engine skip ahead ~4x faster
_DIVERGENT = re.compile(
    _FIRST + _START + r"(?:"
    r"(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)" + _END +         # YAML 1.1 booleans
    r"|[-+]?0(?:[0-9_]+(?:\.[0-9_]*)?|[oO][0-7_]*|[bB][01_]*|[xX][0-9a-fA-F]*_[0-9a-fA-F_]*)" + _END +  # 0644, 0o17
    r"|[-+]?[0-9][0-9_]*_[0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?" + _END +  # 1_000
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?" + _END +     # sexagesimal 1:20, 21:59:43.10
    r"|[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+" + _END +  # exponents 1e3, 1.5e+3
    r"|[-+]\.[0-9]"                        # signed .5
    r"|[-+]?[0-9]{19}"                     # integers beyond 64 bits
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]"          # dates and timestamps
    r"|<<|=" + _END +                      # merge keys, the value key
    r"|!"                                  # explicit tags (!!binary, !!set, custom)
    r")")


def needs_pyyaml(text: str) -> bool:
    """Whether ``text`` may contain a scalar that YAML 1.1 (PyYAML) and YAML 1.2 (ryaml) read differently."""
    return _DIVERGENT.search(text) is not None


def load(text: str) -> Any:
    """The one YAML document in ``text``, exactly as ``yaml.load(text, CSafeLoader)`` returns it.

    Raises ``yaml.YAMLError`` for invalid YAML (PyYAML's message).
    """
    if ryaml is not None and not needs_pyyaml(text):
        try:
            return ryaml.loads(text)
        except Exception:  # let PyYAML decide and word the error (duplicate keys, bad syntax)
            pass
    return yaml.load(text, Loader=_PyYAMLLoader)  # CSafeLoader/SafeLoader only
