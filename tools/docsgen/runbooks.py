"""docs/runbooks.md from each notebook's ``metadata.kubebook``, its parameters cell and scheduled/schedules.yaml.

Title, description, category, risk, every parameter (type, default, constraints from the JSON Schema; the
default the parameters cell really assigns), the RBAC rules it declares, and every schedule that runs it
(cron and parameters). The runner validates against the same schema, so what this page says is what a run
accepts.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from kubebook.runner.params import secret_names
from kubebook.schedule.model import load_schedules

from .common import BANNER, ROOT, cell, code, table

FOLDERS = ("runbooks", "notebooks")
CONSTRAINTS = ("enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern", "minLength",
               "maxLength", "format")


def cell_defaults(nb: dict[str, Any]) -> dict[str, str]:
    """Each assignment of the ``parameters``-tagged cell as its source text (what papermill overrides)."""
    for c in nb["cells"]:
        if c["cell_type"] == "code" and "parameters" in c.get("metadata", {}).get("tags", []):
            source = "".join(c["source"])
            found = {}
            for node in ast.parse(source).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    found[node.targets[0].id] = ast.get_source_segment(source, node.value) or ""
            return found
    return {}


def _type(prop: dict[str, Any]) -> str:
    declared = prop.get("type", "any")
    text = " or ".join(declared) if isinstance(declared, list) else str(declared)
    if text == "array" and isinstance(prop.get("items"), dict) and "type" in prop["items"]:
        text += f" of {prop['items']['type']}"
    return text


def _constraints(prop: dict[str, Any], secret: bool) -> str:
    notes = [f"{key} {code(prop[key])}" for key in CONSTRAINTS if key in prop]
    if secret:
        notes.append("secret: never written to a report")
    return "; ".join(notes)


def _parameters(meta: dict[str, Any], assigned: dict[str, str]) -> str:
    schema = meta.get("parameters") or {}
    props = schema.get("properties") or {}
    if not props:
        return "Parameters: none.\n"
    secrets = secret_names(schema)
    required = set(schema.get("required") or ())
    rows = []
    for name, prop in props.items():
        default = code(prop["default"]) if "default" in prop else ("required" if name in required else "-")
        in_cell = f"`{assigned[name]}`" if name in assigned else "not in the cell"
        rows.append([f"`{name}`", _type(prop), default, in_cell.replace("|", "\\|"),
                     cell(prop.get("description", "")), cell(_constraints(prop, name in secrets))])
    return table(["parameter", "type", "default (schema)", "parameters cell", "what it is", "constraints"], rows)


def _rbac(rules: list[dict[str, Any]]) -> str:
    if not rules:
        return "RBAC: none (it never calls the API).\n"
    rows = []
    for rule in rules:
        groups = ", ".join(f"`{g}`" if g else "core" for g in rule.get("apiGroups", [])) or "-"
        rows.append([groups, cell(", ".join(rule.get("resources", []) or rule.get("nonResourceURLs", []))),
                     cell(", ".join(rule.get("verbs", [])))])
    return table(["API groups", "resources", "verbs"], rows)


def _schedules(path: str, by_notebook: dict[str, list[Any]]) -> str:
    found = by_notebook.get(path, [])
    if not found:
        return "Schedules: none (run it with `kubebook run` or open it in JupyterLab).\n"
    rows = [[f"`{s.name}`", f"`{s.cron}`", ", ".join(f"`{k}={json.dumps(v)}`" for k, v in s.parameters.items()) or "-",
             "yes" if s.enabled else "no"] for s in found]
    return table(["schedule", "cron (UTC)", "parameters", "enabled"], rows)


def notebooks() -> list[Path]:
    return [p for folder in FOLDERS for p in sorted((ROOT / folder).glob("*.ipynb"))]


def render() -> str:
    schedules = load_schedules(ROOT / "scheduled" / "schedules.yaml")
    by_notebook: dict[str, list[Any]] = {}
    for s in schedules:
        by_notebook.setdefault(s.notebook.resolve().relative_to(ROOT).as_posix(), []).append(s)
    entries = []
    for path in notebooks():
        nb = json.loads(path.read_text(encoding="utf-8"))
        entries.append((path.relative_to(ROOT).as_posix(), nb, nb["metadata"].get("kubebook") or {}))
    out = [BANNER.format(source="each notebook's metadata.kubebook under runbooks/ and notebooks/ and "
                                "scheduled/schedules.yaml"),
           "# Runbook catalog\n",
           "Every runbook and notebook, from its own metadata: the parameters the runner validates before a kernel "
           "starts (`kubebook run NOTEBOOK -p name=value`), the RBAC it needs (`kubebook schedule render-cronjobs` "
           "renders it as the ServiceAccount's ClusterRole), and the schedules in `scheduled/schedules.yaml` "
           "that run it. Mutating runbooks "
           "default to `dry_run=True` and need `confirm=True` headless.\n",
           table(["notebook", "title", "category", "risk", "schedules"],
                 [[f"[`{rel}`](#{Path(rel).stem})", cell(meta.get("title", "")), cell(meta.get("category", "")),
                   f"**{meta.get('risk', 'undeclared')}**", str(len(by_notebook.get(rel, [])))]
                  for rel, _, meta in entries])]
    for rel, nb, meta in entries:
        out += [f"## {Path(rel).stem}\n",
                f"**{meta.get('title', Path(rel).stem)}** - `{rel}` - category `{meta.get('category', '-')}` - "
                f"risk **{meta.get('risk', 'undeclared')}**\n",
                " ".join(str(meta.get("description", "")).split()) + "\n",
                "### Parameters\n", _parameters(meta, cell_defaults(nb)),
                "### RBAC it needs\n", _rbac(meta.get("rbac") or []),
                "### Schedules\n", _schedules(rel, by_notebook)]
    return "\n".join(out)
