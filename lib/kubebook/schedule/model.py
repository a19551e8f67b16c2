"""schedules.yaml: the model, its JSON Schema and the semantic checks behind it.

A schedule file is validated completely before anything runs: the JSON Schema
catches wrong shapes and typos, then each well-shaped schedule is checked for
meaning (the cron parses, the notebook exists and follows the kubebook
conventions, the parameters satisfy that notebook's schema). Every mistake is
collected and reported at once, each naming the schedule and the field, so a
user fixes the file in one pass instead of one error per attempt.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from croniter import croniter

from kubebook import schemamsg, yamlload
from kubebook.conventions import check_notebook
from kubebook.errors import ParameterError

FAILURE_STATUSES = ("failed", "timeout", "kernel_died", "leaked", "interrupted")
RUN_STATUSES = ("succeeded", *FAILURE_STATUSES)
POLICIES = ("Forbid", "Allow")
CRON_ALIASES = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
NAME_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

NOTIFY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "url": {"type": "string", "pattern": "^https?://"},
        "url_env": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "statuses": {"type": "array", "items": {"enum": list(RUN_STATUSES)}, "minItems": 1, "uniqueItems": True},
        "attempts": {"type": "integer", "minimum": 1, "maximum": 10},
        "backoff": {"type": "number", "minimum": 0, "maximum": 60},
    },
}
# Fields a schedule may take from the file's `defaults` block.
TUNABLES: dict[str, Any] = {
    "timeout": {"type": "number", "exclusiveMinimum": 0},
    "cell_timeout": {"type": "number", "exclusiveMinimum": 0},
    "retries": {"type": "integer", "minimum": 0, "maximum": 10},
    "retry_delay": {"type": "number", "minimum": 0, "maximum": 3600},
    "concurrency_policy": {"enum": list(POLICIES)},
    "notify": NOTIFY_SCHEMA,
    "enabled": {"type": "boolean"},
}
SCHEDULE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "notebook", "cron"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": NAME_PATTERN, "maxLength": 40},
        "description": {"type": "string"},
        "notebook": {"type": "string", "minLength": 1},
        "cron": {"type": "string", "minLength": 1},
        "parameters": {"type": "object"},
        **TUNABLES,
    },
}
FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["schedules"],
    "additionalProperties": False,
    "properties": {
        "version": {"const": 1},
        "defaults": {"type": "object", "additionalProperties": False, "properties": TUNABLES},
        "schedules": {"type": "array", "items": SCHEDULE_SCHEMA},
    },
}
FIELD_HINTS = {
    "name": "use lower-case letters, digits and '-' (at most 40), e.g. 'nightly-audit'",
    "concurrency_policy": "use 'Forbid' (default: skip while the previous run is running) or 'Allow'; "
                          "'Replace' is not supported because stopping a run midway could leave a "
                          "half-applied change",
    "url": "use an http:// or https:// URL, or url_env naming an environment variable that holds it",
    "statuses": f"list statuses from {list(RUN_STATUSES)}",
}


@dataclass(frozen=True)
class Notify:
    """Where and when to send a webhook about a scheduled run."""

    url: str | None = None
    url_env: str | None = None
    statuses: tuple[str, ...] = FAILURE_STATUSES
    attempts: int = 4
    backoff: float = 1.0

    def resolve_url(self) -> str | None:
        """The webhook URL, read from the environment when configured by name (keeps tokens out of git)."""
        if self.url:
            return self.url
        return os.environ.get(self.url_env or "") or None


@dataclass(frozen=True)
class Schedule:
    """One entry of schedules.yaml, with defaults applied and the notebook path resolved."""

    name: str
    notebook: Path
    cron: str
    parameters: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    cell_timeout: float | None = None
    retries: int = 0
    retry_delay: float = 5.0
    concurrency_policy: str = "Forbid"
    notify: Notify | None = None
    enabled: bool = True
    description: str = ""

    @property
    def cron_expression(self) -> str:
        """The cron with @aliases expanded to five fields (what croniter and Kubernetes both accept)."""
        return CRON_ALIASES.get(self.cron.strip(), self.cron.strip())


def default_schedules_file() -> Path:
    """``$KUBEBOOK_SCHEDULES``, else ``scheduled/schedules.yaml`` under the current directory."""
    return Path(os.environ.get("KUBEBOOK_SCHEDULES") or "scheduled/schedules.yaml")


def load_schedules(path: Path) -> list[Schedule]:
    """Read and validate a schedule file; raises ParameterError listing every mistake at once."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"schedule file {path} does not exist",
                             hint="pass --file or create scheduled/schedules.yaml (see scheduled/README.md)")
    document = yamlload.load_file(path)
    problems = validate_document(document, path.parent)
    if problems:
        raise ParameterError(f"{path} has {len(problems)} mistake(s); nothing was run", problems=problems)
    defaults = document.get("defaults") or {}
    return [_build({**defaults, **entry}, path.parent) for entry in document["schedules"]]


def validate_document(document: Any, base: Path) -> list[str]:
    """Every mistake in a parsed schedule file, grouped by entry: schema first, then meaning."""
    mistakes = schema_mistakes(document)
    by_entry: dict[int, list[str]] = {}
    for at, _, text in mistakes:
        by_entry.setdefault(at if isinstance(at, int) else -1, []).append(text)
    if isinstance(document, dict) and isinstance(document.get("schedules"), list):
        defaults = document.get("defaults") if isinstance(document.get("defaults"), dict) else {}
        bad_defaults = {field for entry, field, _ in mistakes if entry == "defaults"}
        seen: dict[str, int] = {}
        for index, entry in enumerate(document["schedules"]):
            if not isinstance(entry, dict):
                continue
            where = _where(index, entry)
            found = by_entry.setdefault(index, [])
            name = entry.get("name")
            if isinstance(name, str):
                if name in seen:
                    found.append(f"{where}, field 'name': '{name}' is already used by entry {seen[name] + 1}; "
                                 "names must be unique")
                seen.setdefault(name, index)
            bad_fields = bad_defaults | {field for at, field, _ in mistakes if at == index}
            found.extend(_semantic_problems(where, {**defaults, **entry}, bad_fields, base))
    return [text for index in sorted(by_entry) for text in by_entry[index]]


def find_schedule(schedules: list[Schedule], name: str) -> Schedule:
    """The schedule called ``name``; a ParameterError lists the known names otherwise."""
    for schedule in schedules:
        if schedule.name == name:
            return schedule
    known = [s.name for s in schedules]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"known schedules: {', '.join(known) or 'none'}"
    raise ParameterError(f"no schedule named '{name}'", hint=hint)


def schema_mistakes(document: Any) -> list[tuple[int | str | None, str, str]]:
    """JSON Schema mistakes as (entry index or 'defaults' or None, top-level field, sentence).

    Each sentence reads 'schedule X (entry N), field Y: what is wrong (what would be right)'.
    """
    found = []
    for problem in schemamsg.check(FILE_SCHEMA, document):
        path = list(problem.path)
        if path[:1] == ["schedules"] and len(path) >= 2:
            at: int | str | None = path[1]
            prefix, rest = _where(path[1], document["schedules"][path[1]]), path[2:]
        elif path[:1] == ["defaults"]:
            at, prefix, rest = "defaults", "defaults", path[1:]
        else:
            at, prefix, rest = None, "the file", path
        for field_path, text in _phrase(problem, rest):
            found.append((at, str(field_path[0]) if field_path else "", f"{prefix}, {text}"))
    return found


def _phrase(problem: schemamsg.Problem, rest: list[Any]) -> list[tuple[list[Any], str]]:
    """(field path, sentence) pairs for one schema problem; unknown fields get a did-you-mean."""
    if problem.keyword == "required":
        missing = problem.names[0] if problem.names else "?"
        return [([*rest, missing], f"field '{'.'.join(map(str, [*rest, missing]))}': is required")]
    if problem.keyword == "additionalProperties":
        allowed = list((problem.schema or {}).get("properties", {}))
        out = []
        for extra in problem.names:
            close = difflib.get_close_matches(extra, allowed, n=1)
            suggestion = f"did you mean '{close[0]}'?" if close else f"known fields: {', '.join(allowed)}"
            out.append(([*rest, extra], f"field '{'.'.join(map(str, [*rest, extra]))}': unknown field "
                                        f"({suggestion})"))
        return out
    named = [str(p) for p in rest if not isinstance(p, int)]
    hint = FIELD_HINTS.get(named[-1], "") if named else ""
    field_name = ".".join(schemamsg.safe_key(p) if isinstance(p, str) else str(p) for p in rest) or "(whole entry)"
    return [(rest, f"field '{field_name}': {problem.text}" + (f" ({hint})" if hint else ""))]


def _where(index: int, entry: Any) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    label = f"'{name}'" if isinstance(name, str) and name else "(unnamed)"
    return f"schedule {label} (entry {index + 1})"


def _semantic_problems(where: str, entry: dict[str, Any], bad_fields: set[str], base: Path) -> list[str]:
    problems = []
    cron = entry.get("cron")
    if isinstance(cron, str) and "cron" not in bad_fields:
        problem = cron_problem(cron)
        if problem:
            problems.append(f"{where}, field 'cron': {problem}")
    notebook_ok = False
    if isinstance(entry.get("notebook"), str) and "notebook" not in bad_fields:
        notebook = resolve_notebook(entry["notebook"], base)
        if not notebook.is_file():
            problems.append(f"{where}, field 'notebook': {notebook} does not exist (paths are relative to "
                            f"the schedule file's folder {base.resolve()})")
        elif (unreadable := _unreadable(notebook)) is not None:
            problems.append(f"{where}, field 'notebook': {unreadable}")
        else:
            found = check_notebook(notebook)
            problems.extend(f"{where}, field 'notebook': not a kubebook notebook: {p.message}" for p in found)
            notebook_ok = not found
    if notebook_ok and "parameters" not in bad_fields:
        problems.extend(_parameter_problems(where, resolve_notebook(entry["notebook"], base),
                                            entry.get("parameters") or {}))
    timeout, cell_timeout = entry.get("timeout"), entry.get("cell_timeout")
    if (isinstance(timeout, int | float) and isinstance(cell_timeout, int | float) and cell_timeout > timeout
            and not {"timeout", "cell_timeout"} & bad_fields):
        problems.append(f"{where}, field 'cell_timeout': {cell_timeout}s exceeds the run's timeout {timeout}s "
                        "(a cell can never take longer than its whole run)")
    notify = entry.get("notify")
    if (isinstance(notify, dict) and "notify" not in bad_fields
            and bool(notify.get("url")) == bool(notify.get("url_env"))):
        problems.append(f"{where}, field 'notify': give exactly one of 'url' or 'url_env' "
                        "(url_env names an environment variable holding the URL, keeping tokens out of git)")
    return problems


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a usable schedule, or None when it is."""
    text = expression.strip()
    if text.startswith("@"):
        if text in CRON_ALIASES:
            return None
        return f"'{text}' is not a known alias (use one of {', '.join(CRON_ALIASES)})"
    fields = text.split()
    if len(fields) != 5:
        return (f"'{text}' has {len(fields)} fields; use 5 (minute hour day-of-month month day-of-week), "
                "e.g. '0 3 * * *' for 03:00 UTC daily")
    if not croniter.is_valid(text):
        return (f"'{text}' is not a valid cron expression (minute 0-59, hour 0-23, day-of-month 1-31, "
                "month 1-12, day-of-week 0-6), e.g. '*/15 * * * *'")
    from kubebook.schedule.due import never_fires

    if never_fires(text):
        return f"'{text}' can never fire (no such date, e.g. 31 February); fix the day or the month"
    return None


def _unreadable(notebook: Path) -> str | None:
    """Why ``notebook`` is not a notebook file at all, said without quoting its bytes; None when it is one."""
    from kubebook.runner.params import load_notebook_json

    try:
        load_notebook_json(notebook)
    except ParameterError as error:
        return error.message
    return None


def resolve_notebook(value: str, base: Path) -> Path:
    """A notebook path from the file: absolute as given, relative to the schedule file's folder otherwise."""
    path = Path(value).expanduser()
    return (path if path.is_absolute() else base / path).resolve()


def _parameter_problems(where: str, notebook: Path, parameters: dict[str, Any]) -> list[str]:
    from kubebook.runner import validate_parameters

    try:
        validate_parameters(notebook, parameters)
    except ParameterError as error:
        details = error.problems or [error.message]
        return [f"{where}, field 'parameters': {detail}" for detail in details]
    return []


def _build(entry: dict[str, Any], base: Path) -> Schedule:
    notify = entry.get("notify")
    return Schedule(
        name=entry["name"],
        notebook=resolve_notebook(entry["notebook"], base),
        cron=entry["cron"],
        parameters=dict(entry.get("parameters") or {}),
        timeout=entry.get("timeout"),
        cell_timeout=entry.get("cell_timeout"),
        retries=int(entry.get("retries", 0)),
        retry_delay=float(entry.get("retry_delay", 5.0)),
        concurrency_policy=entry.get("concurrency_policy", "Forbid"),
        notify=Notify(url=notify.get("url"), url_env=notify.get("url_env"),
                      statuses=tuple(notify.get("statuses", FAILURE_STATUSES)), attempts=int(notify.get("attempts", 4)),
                      backoff=float(notify.get("backoff", 1.0))) if notify else None,
        enabled=bool(entry.get("enabled", True)),
        description=entry.get("description", ""),
    )
