"""Detection rules as data: the record, its matcher and its checks.

A rule is one YAML record (``rules/*.yaml``). Its ``when`` is a list of alternatives; an event matches
when every condition of one alternative holds and no alternative of ``unless`` does. A condition maps a
field path of the audit event to a test. Paths are dotted; ``[]`` walks every item of a list and ``{}``
every key of a mapping, so ``requestObject.spec.containers[].securityContext.privileged`` is true when any
container is privileged. The matcher is compiled once into closures: scanning a 5 GB log calls it per line.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kubebook.errors import ParameterError

SEVERITIES = ("low", "medium", "high", "critical")
LEVELS = ("None", "Metadata", "Request", "RequestResponse")
OPERATORS = ("eq", "in", "not_in", "prefix", "not_prefix", "glob", "regex", "exists", "self_sa", "lt", "gte")
FIELDS = ("verb", "user", "impersonatedUser", "userAgent", "sourceIPs", "objectRef", "requestObject",
          "responseObject", "annotations", "responseStatus", "requestURI", "stage")
_MISSING = object()

Test = Callable[[Any], bool]
Matcher = Callable[[dict[str, Any]], bool]


def walk(value: Any, parts: list[str]) -> Iterator[Any]:
    """Every value ``parts`` reaches from ``value``: ``[]`` fans out over a list, ``{}`` over a mapping's keys."""
    if not parts:
        yield value
        return
    head, rest = parts[0], parts[1:]
    if head == "[]":
        if isinstance(value, list):
            for item in value:
                yield from walk(item, rest)
        return
    if head == "{}":
        if isinstance(value, dict):
            for key in value:
                yield from walk(key, rest)
        return
    if isinstance(value, dict) and head in value:
        yield from walk(value[head], rest)


_TOKEN = re.compile(r"\['([^']*)'\]|(\[\])|(\{\})|([^.\[\]{}']+)|(\.)")


def split_path(path: str) -> list[str]:
    """``a.b[].c{}`` -> ``['a', 'b', '[]', 'c', '{}']``; ``labels['x.io/y']`` keeps a dotted key whole."""
    parts: list[str] = []
    position = 0
    while position < len(path):
        token = _TOKEN.match(path, position)
        if token is None:
            raise ParameterError(f"field path {path!r} cannot be read at {path[position:]!r}; write "
                                 "a.b[].c{} or a['dotted.key']")
        quoted, items, keys, name, _dot = token.groups()
        if quoted is not None or name is not None:
            parts.append(quoted if quoted is not None else name)
        elif items or keys:
            parts.append(items or keys)
        position = token.end()
    return parts


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _test(op: str, arg: Any, where: str) -> Test:
    """One operator as a predicate over one value (a missing value fails all but ``exists: false``)."""
    if op == "eq":
        return lambda v: v == arg
    if op == "in":
        allowed = set(_as_list(arg))
        return lambda v: isinstance(v, (str, int, bool)) and v in allowed
    if op == "not_in":
        denied = set(_as_list(arg))
        return lambda v: not (isinstance(v, (str, int, bool)) and v in denied)
    if op in ("prefix", "not_prefix"):
        prefixes = tuple(_as_list(arg))
        if op == "prefix":
            return lambda v: isinstance(v, str) and v.startswith(prefixes)
        return lambda v: not (isinstance(v, str) and v.startswith(prefixes))
    if op == "glob":
        pattern = re.compile("|".join(fnmatch.translate(p) for p in _as_list(arg)))
        return lambda v: isinstance(v, str) and pattern.match(v) is not None
    if op == "regex":
        try:
            compiled = re.compile(arg)
        except re.error as error:
            raise ParameterError(f"{where}: regex {arg!r} does not compile ({error}); "
                                 "give a Python regular expression") from None
        return lambda v: isinstance(v, str) and compiled.search(v) is not None
    if op in ("lt", "gte"):
        if not isinstance(arg, int):
            raise ParameterError(f"{where}: {op} needs an integer, got {arg!r}")
        return (lambda v: isinstance(v, int) and v < arg) if op == "lt" else (
            lambda v: isinstance(v, int) and v >= arg)
    raise ParameterError(f"{where}: unknown operator {op!r}; use one of {', '.join(OPERATORS)}")


def _is_self(event: dict[str, Any], username: Any) -> bool:
    """The user is the ServiceAccount the request is about (``system:serviceaccount:<ns>:<name>``)."""
    ref = event.get("objectRef") or {}
    return username == f"system:serviceaccount:{ref.get('namespace')}:{ref.get('name')}"


def _fast_scalar(parts: list[str], spec: dict[str, Any]) -> Matcher | None:
    """The common case (a plain path, ``eq``/``in``/``exists``) as direct lookups: the scan's hot loop."""
    listed = parts[-1] == "[]"  # ``a.b[]: x``: the list at a.b holds x
    if listed:
        parts = parts[:-1]
    if not parts or any(p in ("[]", "{}") for p in parts) or len(spec) != 1:
        return None
    (op, arg), = spec.items()
    head, rest = parts[0], parts[1:]

    def get(event: dict[str, Any]) -> Any:
        value = event.get(head, _MISSING)
        for part in rest:
            if not isinstance(value, dict):
                return _MISSING
            value = value.get(part, _MISSING)
        return value

    if listed:
        if op not in ("eq", "in"):
            return None
        wanted = frozenset(_as_list(arg)) if op == "in" else frozenset([arg])
        return lambda e: isinstance(v := get(e), list) and any(
            isinstance(x, (str, int, bool)) and x in wanted for x in v)
    if op == "eq":
        return lambda e: (v := get(e)) is not _MISSING and v == arg
    if op == "in":
        allowed = frozenset(_as_list(arg))
        return lambda e: isinstance(v := get(e), (str, int, bool)) and v in allowed
    if op == "exists":
        want = bool(arg)
        return lambda e: (get(e) is not _MISSING) == want
    return None


def compile_condition(path: str, spec: Any, where: str) -> Matcher:
    """``path: spec`` -> a predicate over the event. A scalar or list spec is ``eq``/``in``.

    A value test holds when ANY value the path reaches passes it, except the negative operators
    (``not_in``, ``not_prefix``), which hold when EVERY reached value passes (and when none is reached).
    """
    if path.split(".")[0].split("[")[0] not in FIELDS:
        raise ParameterError(f"{where}: field {path!r} is not an audit-event field; use one of {', '.join(FIELDS)}")
    parts = split_path(path)
    if not isinstance(spec, dict):
        spec = {"in": spec} if isinstance(spec, list) else {"eq": spec}
    fast = _fast_scalar(parts, spec)
    if fast is not None:
        return fast
    tests: list[Matcher] = []
    for op, arg in spec.items():
        if op == "self_sa":
            tests.append(lambda e, want=bool(arg): any(_is_self(e, v) for v in walk(e, parts)) == want)
            continue
        if op == "exists":
            want = bool(arg)
            tests.append(lambda e, want=want: (next(walk(e, parts), _MISSING) is not _MISSING) == want)
            continue
        test = _test(op, arg, where)
        if op.startswith("not_"):
            tests.append(lambda e, t=test: all(t(v) for v in walk(e, parts)))
        else:
            tests.append(lambda e, t=test: any(t(v) for v in walk(e, parts)))
    return lambda e: all(t(e) for t in tests)


def compile_alternatives(alternatives: Any, where: str) -> Matcher | None:
    if alternatives is None:
        return None
    if isinstance(alternatives, dict):
        alternatives = [alternatives]
    if not isinstance(alternatives, list) or not all(isinstance(a, dict) and a for a in alternatives):
        raise ParameterError(f"{where}: give a list of non-empty mappings (field path: test)")
    compiled = [[compile_condition(p, s, where) for p, s in alt.items()] for alt in alternatives]

    def matches(event: dict[str, Any]) -> bool:
        for conditions in compiled:  # plain loops: this runs per event per candidate rule
            for condition in conditions:
                if not condition(event):
                    break
            else:
                return True
        return False

    return matches


@dataclass(frozen=True)
class Rule:
    """One detection rule. ``level`` is the least audit level under which it can fire."""

    id: str
    title: str
    severity: str
    techniques: tuple[str, ...]
    level: str
    message: str
    when: list[dict[str, Any]]
    unless: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = "allowed"
    fixtures: dict[str, list[dict[str, Any]]] = field(default_factory=dict, compare=False, repr=False)
    # the objectRef.resource / objectRef.subresource ("" for none) / verb values it can match; None: any
    resources: frozenset[str] | None = None
    subresources: frozenset[str] | None = None
    verbs: frozenset[str] | None = None

    def may_match(self, resource: Any, subresource: str, verb: Any) -> bool:
        """A cheap gate before :meth:`matches`, from the values every alternative pins."""
        return ((self.resources is None or resource in self.resources)
                and (self.subresources is None or subresource in self.subresources)
                and (self.verbs is None or verb in self.verbs))
    matcher: Matcher = field(default=lambda e: False, compare=False, repr=False)

    def matches(self, event: dict[str, Any]) -> bool:
        return self.matcher(event)

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "severity": self.severity, "techniques": list(self.techniques),
                "level": self.level, "outcome": self.outcome, "message": self.message, "when": self.when,
                "unless": self.unless}


def _code_ok(event: dict[str, Any]) -> bool:
    code = (event.get("responseStatus") or {}).get("code")
    return isinstance(code, int) and code < 400


def _pinned(alternatives: list[dict[str, Any]], path: str) -> frozenset[str] | None:
    """The values of ``path`` that every alternative pins (eq/in, or "" for ``exists: false``), or None."""
    found: set[str] = set()
    for alt in alternatives:
        spec = alt.get(path)
        if spec is None:
            return None
        if isinstance(spec, dict):
            if set(spec) == {"exists"} and spec["exists"] is False:
                found.add("")
                continue
            if not set(spec) <= {"eq", "in"} or len(spec) != 1:
                return None
            spec = spec.get("eq", spec.get("in"))
        found.update(str(v) for v in _as_list(spec))
    return frozenset(found)


def build_rule(record: Any, where: str) -> Rule:
    """A YAML record -> a :class:`Rule`, refusing what would silently never match."""
    if not isinstance(record, dict):
        raise ParameterError(f"{where}: a rule is a mapping, got {type(record).__name__}")
    missing = [k for k in ("id", "title", "severity", "techniques", "level", "message", "when") if k not in record]
    if missing:
        raise ParameterError(f"{where}: rule {record.get('id', '?')} lacks {', '.join(missing)}")
    rid = str(record["id"])
    where = f"{where}: rule {rid}"
    if record["severity"] not in SEVERITIES:
        raise ParameterError(f"{where}: severity {record['severity']!r}; use one of {', '.join(SEVERITIES)}")
    if record["level"] not in LEVELS[1:]:
        raise ParameterError(f"{where}: level {record['level']!r}; use one of {', '.join(LEVELS[1:])}")
    outcome = record.get("outcome", "allowed")
    if outcome not in ("allowed", "denied", "any"):
        raise ParameterError(f"{where}: outcome {outcome!r}; use allowed, denied or any")
    when = compile_alternatives(record["when"], where)
    unless = compile_alternatives(record.get("unless"), where)
    assert when is not None

    def matcher(event: dict[str, Any]) -> bool:
        if not when(event):
            return False
        if outcome != "any" and _code_ok(event) != (outcome == "allowed"):
            return False
        return not (unless is not None and unless(event))

    whens = record["when"] if isinstance(record["when"], list) else [record["when"]]
    pins = {key: _pinned(whens, path) for key, path in
            (("resources", "objectRef.resource"), ("subresources", "objectRef.subresource"), ("verbs", "verb"))}
    unlesses = record.get("unless") or []
    return Rule(id=rid, title=str(record["title"]), severity=record["severity"],
                techniques=tuple(str(t) for t in record["techniques"]), level=record["level"],
                message=str(record["message"]), when=whens,
                unless=unlesses if isinstance(unlesses, list) else [unlesses], outcome=outcome,
                fixtures=record.get("fixtures") or {}, matcher=matcher,
                **pins)


def needed_level(rule: Rule) -> str:
    """The level the rule's paths need: a response body needs RequestResponse, a request body Request."""
    paths = [p for alt in rule.when + rule.unless for p in alt]
    if any(p.startswith("responseObject") for p in paths):
        return "RequestResponse"
    if any(p.startswith("requestObject") for p in paths):
        return "Request"
    return "Metadata"
