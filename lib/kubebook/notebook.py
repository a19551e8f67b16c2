"""Helpers a notebook cell calls: record results and guard mutations.

``record(name, value)`` writes the value into the cell's output under a kubebook
MIME type, so the executed notebook itself carries the evidence; the runner
collects these into ``results.json`` after the run (the scrapbook approach,
without scrapbook's separate storage). A record is silent: it shows nothing, the
runbook's headline and views say what matters.
"""

from __future__ import annotations

import html
import json
import math
import os
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubebook.changes import Change, summary
from kubebook.errors import ConfirmationRequired

RECORD_MIME = "application/vnd.kubebook.record+json"


def _jsonable(value: Any) -> Any:
    """Convert pandas/numpy values into plain JSON so records survive round trips."""
    if hasattr(value, "to_dict") and callable(value.to_dict):
        try:
            return _jsonable(value.to_dict(orient="records"))
        except TypeError:
            return _jsonable(value.to_dict())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    json.dumps(value)  # raises TypeError for anything else: better now than at archive time
    return value


def record(name: str, value: Any) -> Any:
    """Record a named result of this run (status, score, counts ...) and return it."""
    from IPython.display import display

    if not name or not isinstance(name, str):
        raise ValueError("record() needs a non-empty string name, e.g. record('score', 87)")
    payload = {"name": name, "value": _jsonable(value)}
    display({RECORD_MIME: payload, "text/plain": "", "text/html": ""}, raw=True)
    return None


def records_from_notebook(nb: Any) -> dict[str, Any]:
    """Every value recorded in an executed notebook; a later record of a name wins."""
    found: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data", {}) if isinstance(output, dict) else {}
            payload = data.get(RECORD_MIME)
            if isinstance(payload, dict) and "name" in payload:
                found[payload["name"]] = payload.get("value")
    return found


# --- the mutation guard -------------------------------------------------------------------------------

NOTHING, DRY_RUN, APPLIED, WAITING = "nothing to do", "dry run", "applied", "waiting for confirmation"


@dataclass
class Decision:
    """What the guard decided and, once applied, what the follow-up returned.

    ``latest`` is the use case's result the screen shows now: the plan's own result before Apply,
    the follow-up's result after it (so a cell reading ``decision.latest`` never reads a stale plan).
    """

    state: str
    counts: dict[str, int]
    message: str
    result: Any = None
    shown: Any = None  # what was drawn last in the follow-up's place (a re-audit after the click, say)
    latest: Any = None
    _handles: list[str] = field(default_factory=list, repr=False)

    @property
    def applied(self) -> bool:
        return self.state == APPLIED

    def as_record(self) -> dict[str, Any]:
        return {"state": self.state, "counts": self.counts, "message": self.message}


HEADLESS_ENV = "KUBEBOOK_HEADLESS"  # exported "1" by the runner and the test suite into every kernel it starts


def headless(*, ask_ipython: bool = True) -> bool:
    """True when no person can press a button: the kubebook runner, nbval, or plain Python.

    The one place ``KUBEBOOK_HEADLESS`` is read. The runner and the test suite export
    ``KUBEBOOK_HEADLESS=1`` into the kernel; a JupyterLab kernel has neither that nor a
    missing IPython shell. ``ask_ipython=False`` answers only what the runner said (the
    variable): what a report will be archived as (plotly.js embedded, links relative to the
    archive), which plain Python without a kernel does not change.
    """
    if os.environ.get(HEADLESS_ENV, "").strip() not in ("", "0"):
        return True
    if not ask_ipython:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return True
    shell = get_ipython()
    return shell is None or getattr(shell, "kernel", None) is None


class Mutation(Protocol):
    """What an engine's mutating use case returns (a remediation plan, a baseline plan, a drill):
    the server's dry-run ``changes`` and the ``follow_up`` that applies them and then proves them
    (verify, re-audit), returning the use case's *new* result, which the guard draws."""

    changes: Sequence[Change]

    def follow_up(self) -> Any: ...


FOLLOW_UP = "follow_up"  # the part of a drawn result the guard shows below its outcome line
_LIVE: dict[int, tuple[weakref.ref[Any], dict[str, str]]] = {}  # id(plan) -> (plan, {part: display id})


class Live:
    """One part of a use case's result (its headline, say), drawn under a display id the guard knows:
    after Apply the guard redraws the part in place from the follow-up's result."""

    def __init__(self, owner: Any, part: str, drawn: Any) -> None:
        self.drawn, self.part = drawn, part
        self.display_id = f"kubebook-{uuid.uuid4().hex}"
        key = id(owner)
        if key not in _LIVE or _LIVE[key][0]() is not owner:
            _LIVE[key] = (weakref.ref(owner), {})
        _LIVE[key][1][part] = self.display_id

    def __getattr__(self, name: str) -> Any:  # .html, .plain ... of what is drawn
        return getattr(self.__dict__["drawn"], name)

    def __repr__(self) -> str:
        return repr(self.drawn)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.drawn, display_id=self.display_id)


def live(owner: Any, part: str, drawn: Any) -> Live:
    """``drawn`` (a part of ``owner``'s screen) shown so that the guard over ``owner`` can redraw it."""
    return Live(owner, part, drawn)


def _live_ids(owner: Any) -> dict[str, str]:
    found = _LIVE.get(id(owner))
    return dict(found[1]) if found is not None and found[0]() is owner else {}


def guard(plan: Any, apply: Callable[[], Any] | None = None, *, dry_run: bool, confirm: bool,
          name: str = "decision", follow_up: Callable[[], Any] | None = None,
          interactive: bool | None = None, view: Callable[[Sequence[Change]], Any] | None = None,
          draw: Callable[[Any], Mapping[str, Any]] | None = None) -> Decision:
    """The one mutation guard: show the server-side dry-run diff, then apply only when confirmed.

    ``plan`` is a mutating use case's result (:class:`Mutation`: ``changes`` and ``follow_up``);
    ``draw(result)`` returns its screen as named parts. The part ``"follow_up"`` is shown below the
    outcome line; every other part shown earlier with :func:`live` (the headline above, say) is
    redrawn in place after Apply, from the result the follow-up returned - never from what the
    plan said before it. (``guard(changes, apply, follow_up=...)``, the older form, is the same
    guard over a plan whose follow-up is ``apply`` and whose screen is ``follow_up()``.)

    * ``dry_run`` (the default of every mutating runbook): show the diff, change nothing;
    * ``dry_run=False`` and ``confirm=True``: call the follow-up once;
    * ``dry_run=False`` without ``confirm``: headless this is an error (a scheduled run that
      was asked to apply but never confirmed must not stay green); interactively an Apply
      button calls the follow-up when pressed and redraws the outcome and the parts in place.

    The decision is recorded under ``name`` (state, counts per action, message).
    ``view`` draws the changes (default: :func:`kubebook.views.changes.changes_view`).
    """
    from IPython.display import display

    if apply is None:
        changes, run, before = plan.changes, plan.follow_up, plan
    else:  # the older form: a bare apply, and a follow_up() drawn after it
        changes, run, before = plan, apply, None
        if follow_up is not None:
            def draw(_: Any, show: Callable[[], Any] = follow_up) -> Mapping[str, Any]:
                return {FOLLOW_UP: show()}
    counts = summary(changes)
    pending = sum(counts[a] for a in ("create", "change", "delete"))
    display((view or changes_view)(changes))
    if pending == 0:
        decision = Decision(NOTHING, counts, "nothing to change: the cluster already matches the plan", latest=before)
    elif dry_run:
        how = ("set dry_run = False, run again and press Apply" if not (headless() if interactive is None
               else not interactive) else "set dry_run = False and confirm = True to apply")
        decision = Decision(DRY_RUN, counts, f"dry run: {pending} change(s) shown, nothing was changed ({how})",
                            latest=before)
    elif confirm:
        done = run()
        decision = Decision(APPLIED, counts, f"applied {pending} change(s)", done, latest=done if apply is None
                            else None)
    elif (headless() if interactive is None else not interactive):
        raise ConfirmationRequired(
            f"asked to apply {pending} change(s) (dry_run = False) but not confirmed; nothing was changed",
            hint="headless: pass -p confirm true; interactively: press the Apply button")
    else:
        decision = Decision(WAITING, counts, f"waiting for confirmation: press Apply to make {pending} change(s)",
                            latest=before)
    _show_outcome(name, decision, draw, update=False, owner=plan if apply is None else None)
    if decision.state == WAITING:
        display(_apply_button(name, decision, run, draw, pending, plan if apply is None else None))
    return decision


def _show_outcome(name: str, decision: Decision, draw: Callable[[Any], Mapping[str, Any]] | None, *,
                  update: bool, owner: Any = None) -> None:
    from IPython.display import display, update_display

    if not decision._handles:
        decision._handles = [f"kubebook-{uuid.uuid4().hex}", f"kubebook-{uuid.uuid4().hex}"]
    show = update_display if update else display
    payload = {"name": name, "value": _jsonable(decision.as_record())}
    colour = {APPLIED: "#1a7f37", DRY_RUN: "#9a6700", WAITING: "#cf222e"}.get(decision.state, "#57606a")
    # the state in bold, then the message without repeating it ("dry run: dry run: ..." read twice)
    rest = decision.message[len(decision.state):] if decision.message.startswith(decision.state) else \
        f": {decision.message}"
    bundle = {RECORD_MIME: payload, "text/plain": decision.message,
              "text/html": f'<p style="font-size:1.2em;color:{colour}"><b>{html.escape(decision.state)}</b>'
                           f"{html.escape(rest)}</p>"}
    show(bundle, raw=True, display_id=decision._handles[0])
    if draw is None:
        return
    if decision.state == WAITING and not update:
        # a place for the follow-up (re-audit, verification) that the Apply click fills in
        show({"text/plain": "shown here after Apply", "text/html": "<p><i>shown here after Apply</i></p>"},
             raw=True, display_id=decision._handles[1])
        return
    parts = draw(decision.latest)
    if FOLLOW_UP in parts:
        decision.shown = parts[FOLLOW_UP]
        show(decision.shown, display_id=decision._handles[1])
    if decision.applied and owner is not None:  # the parts drawn above the guard (the headline): redrawn
        for part, handle in _live_ids(owner).items():
            if part in parts and part != FOLLOW_UP:
                update_display(parts[part], display_id=handle)


def _apply_button(name: str, decision: Decision, run: Callable[[], Any],
                  draw: Callable[[Any], Mapping[str, Any]] | None, pending: int, owner: Any) -> Any:
    import ipywidgets as widgets

    button = widgets.Button(description=f"Apply {pending} change(s)", button_style="danger")
    errors = widgets.Output()

    def clicked(_: Any) -> None:
        button.disabled = True
        try:
            decision.result = run()
        except Exception as error:  # shown to the person who clicked, then the button re-arms
            with errors:
                print(f"apply failed: {error}")
            button.disabled = False
            return
        if owner is not None:
            decision.latest = decision.result
        decision.state, decision.message = APPLIED, f"applied {pending} change(s)"
        button.description, button.button_style = "Applied", "success"  # done: no longer a red warning
        _show_outcome(name, decision, draw, update=True, owner=owner)

    button.on_click(clicked)
    return widgets.VBox([button, errors])


def changes_view(changes: Sequence[Change]) -> Any:
    """Counts per action, then each object's unified diff, as ``kubectl diff`` shows them (see views.changes)."""
    from kubebook.views.changes import changes_view as view

    return view(changes)


def configure_display() -> None:
    """Plotly output for notebooks: see :func:`kubebook.views.configure_plotly`.

    Not called at import (importing kubebook changes nothing and costs no plotly import):
    every view that draws a figure configures plotly on its first draw.
    """
    from kubebook.views import configure_plotly

    configure_plotly()
