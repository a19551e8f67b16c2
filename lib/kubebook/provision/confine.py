"""Confine a kustomize build to the manifests tree, before kustomize runs: no file outside it, no fetch.

Why a check of our own: the baseline reads the runner's RBAC from ``manifests/runner/``, a
folder beside the base, which kustomize's default load restrictor (files only under each
kustomization's own folder) refuses; so the build runs with ``LoadRestrictionsNone``, and this
module is the equivalent restriction at the scale of the whole tree. Even the default
restrictor would not be enough on its own: it lets a base folder live anywhere and lets any
``http(s)://`` file, ``github.com/...`` or ``git@`` base be fetched.

The walk starts at the overlay and follows every reference a kustomization can make
(resources, components, bases, patches, generators' files and env files, replacements,
crds, configurations, openapi). Each one must be a relative path that resolves, symlinks
included, inside the tree; a URL or a git remote is refused. Fields that hand paths to
plugins we cannot see into (generators, transformers, validators, Helm charts), and fields
this check does not know, are refused too: nothing is read on a guess.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubebook import yamlload
from kubebook.errors import ParameterError

RULE = "kustomize builds are confined to the manifests tree and never fetch"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# Fields without any path in them.
PLAIN = {"apiVersion", "kind", "metadata", "namespace", "namePrefix", "nameSuffix", "labels", "commonLabels",
         "commonAnnotations", "images", "replicas", "generatorOptions", "sortOptions", "buildMetadata", "vars"}
FOLDERS = ("resources", "components", "bases")  # each entry a file or a kustomization folder
FILES = ("crds", "configurations")
REFUSED = {"generators": "runs generator plugins", "transformers": "runs transformer plugins",
           "validators": "runs validator plugins", "helmCharts": "inflates Helm charts (which fetch)",
           "helmGlobals": "inflates Helm charts (which fetch)",
           "helmChartInflationGenerator": "inflates Helm charts (which fetch)"}
REMOTE = re.compile(r"^[a-z][a-z0-9+.-]*://|^git::|^[^/\s]+@[^/\s]+:|^(github\.com|gitlab\.com|bitbucket\.org)[/:]",
                    re.IGNORECASE)


def kustomization_file(folder: Path) -> Path | None:
    """The kustomization file of ``folder`` (any of the three names kustomize accepts), else None."""
    for name in KUSTOMIZATION_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def tree_root(folder: Path) -> Path:
    """The manifests tree a kustomization folder belongs to: the nearest folder above it with ``overlays/``.

    A folder outside any such tree is its own root (a test's stand-alone kustomization).
    """
    folder = folder.resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / "overlays").is_dir():
            return candidate
    return folder


def check(folder: Path, root: Path) -> None:
    """Raise ParameterError (one line: the kustomization, the reference, the rule) at the first escape."""
    root = root.resolve()
    seen: set[Path] = set()
    pending = [folder]
    while pending:
        current = pending.pop()
        real = current.resolve()
        if real in seen:
            continue
        seen.add(real)
        if not _inside(real, root):
            raise _escape(current, root, f"the folder {current} resolves to {real}")
        path = kustomization_file(current)
        if path is None:
            continue  # kustomize reports the missing kustomization itself
        for field, ref, folders_allowed in _references(path, root):
            target = _resolve(path, field, ref, root)
            if target is not None and target.is_dir():
                if not folders_allowed:
                    raise _escape(path, root, f"{field} names the folder {ref!r}, not a file")
                pending.append(target)


def _references(path: Path, root: Path) -> Iterator[tuple[str, str, bool]]:
    """(field, reference, may it be a folder) for every path ``path``'s kustomization makes."""
    try:  # bounded before kustomize reads it: an alias bomb or a huge file is one line, not a hang
        doc = yamlload.load_file(path, f"kustomization {path}") or {}
    except yamlload.SyntaxProblem:
        return  # kustomize reports a kustomization that is not YAML in its own words
    if not isinstance(doc, dict):
        return
    for field, value in doc.items():
        if field in PLAIN:
            continue
        if field in REFUSED:
            raise _escape(path, root, f"{field} {REFUSED[field]}, which this check cannot follow")
        if field in FOLDERS:
            yield from ((field, str(ref), True) for ref in _strings(value))
        elif field in FILES:
            yield from ((field, str(ref), False) for ref in _strings(value))
        elif field == "openapi":
            if isinstance(value, dict) and value.get("path"):
                yield field, str(value["path"]), False
        elif field in ("patches", "patchesJson6902", "replacements"):
            for entry in value or []:
                if isinstance(entry, dict) and entry.get("path"):
                    yield field, str(entry["path"]), False
        elif field == "patchesStrategicMerge":
            for entry in _strings(value):
                if "\n" not in entry and not entry.lstrip().startswith(("{", "apiVersion:", "kind:")):
                    yield field, entry, False  # a path, not an inline patch
        elif field in ("configMapGenerator", "secretGenerator"):
            for entry in value or []:
                if not isinstance(entry, dict):
                    continue
                for source in _strings(entry.get("files")):
                    yield field, source.split("=", 1)[1] if "=" in source else source, False
                for source in [*_strings(entry.get("envs")), *_strings(entry.get("env"))]:
                    yield field, source, False
        else:
            raise _escape(path, root, f"the field {field!r} is not one this check knows how to confine")


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v is not None]


def _resolve(path: Path, field: str, ref: str, root: Path) -> Path | None:
    """The real path ``ref`` names, checked to be inside ``root``; None when it does not exist (kustomize says so)."""
    ref = ref.strip()
    if REMOTE.search(ref):
        raise _escape(path, root, f"{field} names {ref!r}, a remote location (kubebook never fetches)")
    candidate = Path(ref) if os.path.isabs(ref) else path.parent / ref
    real = candidate.resolve()
    if not _inside(real, root):
        via = f" (through a symlink, to {real})" if _has_link(candidate) else ""
        raise _escape(path, root, f"{field} names {ref!r}, outside the tree{via}")
    return real if real.exists() else None


def _has_link(path: Path) -> bool:
    return any(p.is_symlink() for p in (path, *path.parents))


def _inside(real: Path, root: Path) -> bool:
    return real == root or root in real.parents


def _escape(where: Path, root: Path, what: str) -> ParameterError:
    return ParameterError(f"{where}: {what}; {RULE} ({root})",
                          hint="keep every file and base the overlay reads inside that folder; nothing was built")
