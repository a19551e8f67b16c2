"""Write each lab's notebook and solution notebook from its catalog file.

Why generated: the story, tasks and reference solution have one source (the lab file the
tests walk), so a notebook can never drift from what the checker verifies; a unit test
fails when a committed notebook differs from what this module renders. Run
``python -m kubebook.labs.render`` after editing a lab file.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import nbformat
import yaml

from kubebook.labs.model import Lab, catalog

RBAC = [
    {"apiGroups": [""], "resources": ["namespaces", "pods", "secrets", "configmaps", "serviceaccounts"],
     "verbs": ["get", "list", "create", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "create", "patch", "delete"]},
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"],
     "verbs": ["get", "create", "patch", "delete"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["list", "create", "patch"]},
    {"apiGroups": ["admissionregistration.k8s.io"],
     "resources": ["validatingadmissionpolicies", "validatingadmissionpolicybindings"],
     "verbs": ["get", "create", "patch", "delete"]},
    {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["users", "groups", "serviceaccounts"], "verbs": ["impersonate"]},
]
TRAINEE = 'trainee = ""  # whose progress this is ("" = $KUBEBOOK_TRAINEE, else your login name)'
IMPORTS = """import kubebook.cluster
import kubebook.labs
from kubebook.views.labs import intro, progress_panel, results_view, step_panel

who = trainee or None
cluster = kubebook.cluster.connect()"""


def _meta(lab: Lab, title: str, description: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"title": title, "description": description, "category": "labs", "risk": "mutating",
            "parameters": {"type": "object", "properties": params}, "rbac": RBAC,
            "lab": {"id": lab.id, "minutes": lab.minutes}}


def _notebook(meta: dict[str, Any], cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["kubebook"] = meta
    for index, (kind, source) in enumerate(cells):
        source = source.strip("\n")
        cell = nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source)
        if kind == "params":
            cell.metadata["tags"] = ["parameters"]
        cell.id = hashlib.sha1(f"{meta['title']}-{index}".encode()).hexdigest()[:8]
        nb.cells.append(cell)
    return nb


def lab_notebook(lab: Lab) -> nbformat.NotebookNode:
    """The trainee's notebook: story, goal, one Check/Hint panel per step, progress."""
    cells: list[tuple[str, str]] = [
        ("md", f"# Lab {lab.order}: {lab.title}\n\n{lab.story}\n\n**Goal.** {lab.goal}\n\n"
               "Run all cells, then work on each step with `kubectl`, your editor or Python. Use the terminal of "
               "the JupyterLab that `kubebook lab jupyter` starts: there `KUBECONFIG` is the local cluster's "
               "admin kubeconfig and `kubectl` is the one kubebook built (the card below says whether this "
               "kernel's terminal has both, and how to set them otherwise). Press **Check** to verify a step "
               "against the cluster and **Hint** for the next hint. `kubebook lab reset "
               f"{lab.id}` restores the starting state; the reference solution is `{lab.solution}`."),
        ("params", TRAINEE),
        ("code", IMPORTS),
        ("code", f'lab = kubebook.labs.start(cluster, "{lab.id}", who=who)'),
        ("code", "intro(lab, str(kubebook.labs.workspace(lab.id, who)), kubebook.labs.terminal(cluster))"),
    ]
    for number, step in enumerate(lab.steps, 1):
        cells.append(("md", f"## Step {number}: {step.title}\n\n{step.task}"))
        cells.append(("code", f'step_panel(cluster, lab, "{step.id}", who=who)'))
    cells += [("md", "## Progress"), ("code", "progress_panel(lab, who=who)")]
    params = {"trainee": {"type": "string", "default": "", "description": "whose progress this is"}}
    return _notebook(_meta(lab, f"Lab {lab.order}: {lab.title}", lab.goal.split("\n")[0], params), cells)


def _action_cell(action: dict[str, Any]) -> str:
    if "apply" in action:
        text = "\n---\n".join(yaml.safe_dump(o, sort_keys=False).rstrip() for o in action["apply"])
        return f'kubebook.labs.apply_yaml(cluster, """\n{text}\n""")'
    if "delete" in action:
        return f"kubebook.labs.delete(cluster, {json.dumps(action['delete'])})"
    body = {k: v for k, v in action.items() if k != "explain"}
    return f"kubebook.labs.run_action(cluster, lab.id, {json.dumps(body)}, who=who)"


def solution_notebook(lab: Lab) -> nbformat.NotebookNode:
    """The reference solution: each step's actions as cells, then a check that must pass."""
    cells: list[tuple[str, str]] = [
        ("md", f"# Solution of lab {lab.order}: {lab.title}\n\nThe reference solution of `{lab.notebook}`. "
               f"Running it (`kubebook run {lab.solution}`) makes every step pass; the last cell fails otherwise."),
        ("params", TRAINEE + "\nwait_seconds = 30  # how long to let the API server pick up new policies"),
        ("code", "import kubebook.notebook\n" + IMPORTS),
        ("code", f'lab = kubebook.labs.start(cluster, "{lab.id}", who=who)'),
    ]
    for number, step in enumerate(lab.steps, 1):
        cells.append(("md", f"## Step {number}: {step.title}"))
        for action in step.solution:
            cells.append(("md", action["explain"]))
            cells.append(("code", _action_cell(action)))
    cells += [("md", "## Every step passes"),
              ("code", "result = kubebook.labs.check(cluster, lab.id, who=who, wait=wait_seconds)"),
              ("code", "results_view(lab, result)"),
              ("code", 'kubebook.notebook.record("lab_result", result.as_dict())'),
              ("code", "kubebook.labs.require_passed(result)")]
    params = {"trainee": {"type": "string", "default": "", "description": "whose progress this is"},
              "wait_seconds": {"type": "number", "minimum": 0, "default": 30,
                               "description": "how long to let the API server pick up new policies"}}
    return _notebook(_meta(lab, f"Solution: lab {lab.order}, {lab.title}",
                           f"Reference solution of lab {lab.order}; every step passes afterwards.", params), cells)


def render_all(root: Path) -> dict[Path, str]:
    """Every lab and solution notebook as the text that belongs at its path under ``root``."""
    out: dict[Path, str] = {}
    for lab in catalog().values():
        out[root / lab.notebook] = nbformat.writes(lab_notebook(lab)) + "\n"
        out[root / lab.solution] = nbformat.writes(solution_notebook(lab)) + "\n"
    return out


def main(argv: list[str] | None = None) -> int:
    root = Path((argv or sys.argv[1:] or ["."])[0])
    for path, text in render_all(root).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
