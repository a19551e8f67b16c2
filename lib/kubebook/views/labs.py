"""What a lab notebook shows: a Check and a Hint button per step, and a progress bar.

Interactively (JupyterLab) the buttons call the labs engine and redraw in place; headless
(papermill, nbval, ``kubebook run``) the same check runs at once as a plain call and its
verdict is shown as text, never raised: a lab's starting state fails its checks by design.
"""

from __future__ import annotations

import html
import re
from typing import Any

from kubebook import labs
from kubebook.errors import KubebookError
from kubebook.labs import progress
from kubebook.labs.model import Lab, LabResult, StepResult
from kubebook.notebook import headless

PASS_COLOUR, FAIL_COLOUR = "#1a7f37", "#cf222e"
_BARS: dict[str, list[Any]] = {}  # lab id -> progress widgets to refresh after a check


class Verdicts:
    """Step verdicts as HTML (JupyterLab, reports) and plain text (terminals, nbval)."""

    def __init__(self, results: list[StepResult], titles: dict[str, str]) -> None:
        self.results, self.titles = results, titles

    def _repr_html_(self) -> str:
        return "".join(verdict_html(r, self.titles.get(r.id, r.id)) for r in self.results)

    def __repr__(self) -> str:
        return "\n".join(f"{'PASS' if r.passed else 'FAIL'} {r.id}: {r.reason}" for r in self.results)


def inline(text: str) -> str:
    """Escaped text with the lab files' `code` spans as <code> (hints are written in Markdown)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def verdict_html(result: StepResult, title: str) -> str:
    """FAIL: the reason, in full (it says what to do). PASS: one line; what was checked folds away."""
    head = (f'<div class="kubebook-lab-verdict" data-step="{html.escape(result.id)}" '
            f'data-passed="{str(result.passed).lower()}">')
    if not result.passed:
        return f'{head}<b style="color:{FAIL_COLOUR}">FAIL</b> {html.escape(title)}: {inline(result.reason)}</div>'
    return (f'{head}<details><summary><b style="color:{PASS_COLOUR}">PASS</b> {html.escape(title)}</summary>'
            f'<small>checked: {inline(result.reason)}</small></details></div>')


def error_html(error: Exception) -> str:
    return f'<b style="color:{FAIL_COLOUR}">ERROR</b> {html.escape(str(error))}'


class _Error:
    """A kubebook error as one line in a cell's output (never a traceback)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"ERROR {self.error}"

    def _repr_html_(self) -> str:
        return error_html(self.error)


def results_view(lab: Lab, result: LabResult) -> Verdicts:
    """Every step's verdict of a check, for a notebook cell."""
    return Verdicts(result.steps, {s.id: s.title for s in lab.steps})


def step_panel(cluster: Any, lab: Lab, step_id: str, who: str | None = None) -> Any:
    """A step's Check and Hint buttons (headless: the check's verdict, as text)."""
    step = lab.step(step_id)
    if headless():
        try:
            return results_view(lab, labs.check(cluster, lab.id, step_id, who=who))
        except KubebookError as error:
            return _Error(error)
    import ipywidgets as widgets

    check_button = widgets.Button(description="Check", button_style="primary", icon="check",
                                  tooltip=f"verify step {step.id} against the cluster")
    check_button.add_class("kubebook-lab-check")
    hint_button = widgets.Button(description=f"Hint (0/{len(step.hints)})", icon="lightbulb-o")
    hint_button.add_class("kubebook-lab-hint")
    verdict = widgets.HTML("<i>not checked yet</i>")
    verdict.add_class("kubebook-lab-result")
    hints = widgets.HTML("")
    hints.add_class("kubebook-lab-hints")

    def on_check(_: Any) -> None:
        check_button.disabled = True
        verdict.value = "<i>checking ...</i>"
        try:
            outcome = labs.check(cluster, lab.id, step.id, who=who)
            verdict.value = verdict_html(outcome.steps[0], step.title)
        except Exception as error:  # shown to the trainee; the button re-arms
            verdict.value = error_html(error)
        finally:
            check_button.disabled = False
        refresh(lab, who)

    def on_hint(_: Any) -> None:
        try:
            shown = labs.hint(lab.id, step.id, who=who)
        except KubebookError as error:
            hints.value = error_html(error)
            return
        hints.value = "<ol>" + "".join(f"<li>{inline(h)}</li>" for h in shown) + "</ol>"
        hint_button.description = f"Hint ({len(shown)}/{len(step.hints)})"
        hint_button.disabled = len(shown) >= len(step.hints)

    check_button.on_click(on_check)
    hint_button.on_click(on_hint)
    return widgets.VBox([widgets.HBox([check_button, hint_button]), verdict, hints])


def _summary(lab: Lab, who: str | None) -> dict[str, Any]:
    return progress.summary(lab, progress.load(who))


def duration(seconds: int) -> str:
    """``45 s``, ``1 min 05 s``, ``1 h 02 min``: never "0 min" after most of a minute."""
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _label(summary: dict[str, Any]) -> str:
    if summary.get("started") is None:
        return f"not started (0/{summary['steps']} steps)"
    if summary.get("finished") and summary.get("seconds") is not None:
        took = f", finished in {duration(summary['seconds'])}"
    elif summary.get("elapsed_seconds") is not None:
        took = f", {duration(summary['elapsed_seconds'])} since the start"
    else:
        took = ""
    return f"{summary['steps_passed']}/{summary['steps']} steps passed, {summary['hints_used']} hint(s) used{took}"


def refresh(lab: Lab, who: str | None = None) -> None:
    """Redraw the progress bars of a lab after a check."""
    try:
        summary = _summary(lab, who)
    except KubebookError as error:
        for _bar, label in _BARS.get(lab.id, []):
            label.value = f"ERROR {error}"
        return
    for bar, label in _BARS.get(lab.id, []):
        bar.value = summary["steps_passed"]
        label.value = _label(summary)


def progress_panel(lab: Lab, who: str | None = None) -> Any:
    """Steps passed out of all, hints used and time taken (from the trainee's signed progress)."""
    try:
        summary = _summary(lab, who)
    except KubebookError as error:
        return _Error(error)
    if headless():
        return _Text(_label(summary))
    import ipywidgets as widgets

    bar = widgets.IntProgress(value=summary["steps_passed"], min=0, max=len(lab.steps), description="Progress")
    label = widgets.Label(_label(summary))
    _BARS.setdefault(lab.id, []).append((bar, label))
    return widgets.HBox([bar, label])


class _Text:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def intro(lab: Lab, workspace: str | None = None, terminal: dict[str, Any] | None = None) -> Any:
    """The lab's card: domain, time, prerequisites, namespaces, workspace folder, and which kubectl and
    kubeconfig the terminal uses (``kubebook.labs.terminal()``: ready, or what to fix)."""
    rows = [("Domain", lab.domain), ("Time", f"about {lab.minutes} minutes"),
            ("Prerequisites", ", ".join(lab.prerequisites) or "none"), ("Namespaces", ", ".join(lab.namespaces))]
    if workspace:
        rows.append(("Workspace", workspace))
    if terminal:
        rows.append(("Terminal", ("ready: " if terminal["ready"] else "NOT SET UP: ") + terminal["advice"]))
    text = "\n".join(f"{k}: {v}" for k, v in rows)
    body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>"
                   f"{html.escape(v)}</td></tr>" for k, v in rows)

    class Card(_Text):
        def _repr_html_(self) -> str:
            return f"<table>{body}</table>"

    return Card(text)
