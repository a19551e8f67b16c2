"""docs/labs.md from the lab catalog (``kubebook.labs.model.catalog()``): the same data the checker verifies.

Each lab's id, title, minutes, CKS domain, prerequisites, steps and its notebook and solution; the lab
notebooks themselves are rendered from the same catalog by ``python -m kubebook.labs.render .``.
"""

from __future__ import annotations

from kubebook.labs.model import catalog

from .common import BANNER, cell, table

# docs/labs.md sits one folder below the repository root; notebooks are linked as files of the repository
REPO = "../"


def render() -> str:
    labs = list(catalog().values())
    total = sum(lab.minutes for lab in labs)
    out = [BANNER.format(source="the lab catalog, lib/kubebook/labs/catalog/*.yaml"), "# Labs catalog\n",
           f"{len(labs)} hands-on labs, {total} minutes in all, auto-graded against the real API server "
           "(`kubebook lab start ID`, then `kubebook lab check ID`). \"Local control plane\" means the lab reads "
           "files only the machine running the control plane has (audit log, etcd). How labs run, are graded and "
           "reset: [Training labs](capabilities/labs.md).\n",
           table(["#", "id", "title", "CKS domain", "steps", "minutes", "prerequisites", "local control plane"],
                 [[str(lab.order), f"[`{lab.id}`](#{lab.id})", cell(lab.title), cell(lab.domain),
                   str(len(lab.steps)), str(lab.minutes), cell("; ".join(lab.prerequisites)),
                   "yes" if lab.needs_local_cluster else "no"] for lab in labs])]
    for lab in labs:
        out += [f"## {lab.id}\n",
                f"**Lab {lab.order}: {cell(lab.title)}** - {lab.minutes} min - {cell(lab.domain)}\n",
                f"Notebook: `{lab.notebook}` - solution: `{lab.solution}` - namespaces: "
                + ", ".join(f"`{n}`" for n in lab.namespaces) + "\n",
                "Prerequisites: " + (cell("; ".join(lab.prerequisites)) if lab.prerequisites else "none") + ".\n",
                f"**Goal.** {' '.join(lab.goal.split())}\n",
                table(["step", "title", "hints"],
                      [[f"`{step.id}`", cell(step.title), str(len(step.hints))] for step in lab.steps])]
    return "\n".join(out)
