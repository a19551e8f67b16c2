"""Build an overlay of ``manifests/`` into the objects to apply, with real kustomize.

Why the kustomize of ``kubectl kustomize`` (the kubectl built by ``kubebook cluster
build``): a hand-written merge of bases, patches and namespace transforms would be
a second, subtly different kustomize. It is run as a build tool here; every API call
still goes through :mod:`kubebook.cluster`. The runner's service accounts are read
from ``manifests/runner/`` (rendered by ``kubebook schedule render-cronjobs``), a
folder beside the base, hence ``--load-restrictor LoadRestrictionsNone``; what that
restrictor would guard, :mod:`kubebook.provision.confine` guards for the whole tree before
kustomize starts (no file outside ``manifests/``, symlinks included, no remote base), and
kustomize runs with every proxy pointed at a closed port and git allowed no protocol, so
it cannot fetch even what the check did not foresee.

Every bad input (an unknown overlay, a kustomization kustomize rejects, a document
that is not a Kubernetes object, the same object twice) is one ParameterError raised
before anything reaches a cluster.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubebook import yamlload
from kubebook.errors import ParameterError
from kubebook.provision import confine

MANIFESTS_ENV = "KUBEBOOK_MANIFESTS"
LOAD_RESTRICTOR = ("--load-restrictor", "LoadRestrictionsNone")
CLOSED = "http://127.0.0.1:9"  # the discard port, closed: a fetch fails at once instead of leaving the machine
NO_FETCH = {"HTTP_PROXY": CLOSED, "HTTPS_PROXY": CLOSED, "http_proxy": CLOSED, "https_proxy": CLOSED,
            "ALL_PROXY": CLOSED, "NO_PROXY": "", "no_proxy": "", "GIT_ALLOW_PROTOCOL": "kubebook-none",
            "GIT_TERMINAL_PROMPT": "0"}


@dataclass
class Built:
    """An overlay's objects in kustomize's output order, plus the YAML kustomize printed."""

    overlay: str
    path: Path
    objects: list[dict[str, Any]]
    text: str = field(repr=False, default="")

    def namespaces(self) -> list[str]:
        """The Namespace objects this overlay creates, in order."""
        return [o["metadata"]["name"] for o in self.objects if o.get("kind") == "Namespace"]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o.get("kind") == kind]


def manifests_root(root: str | os.PathLike[str] | None = None) -> Path:
    """``root``, else ``$KUBEBOOK_MANIFESTS``, else the repository's ``manifests/``."""
    if root is None:
        root = os.environ.get(MANIFESTS_ENV) or Path(__file__).resolve().parents[3] / "manifests"
    path = Path(root).expanduser()
    if not (path / "overlays").is_dir():
        raise ParameterError(f"{path} has no overlays/ folder",
                             hint="pass the folder that holds base/ and overlays/ (or set $KUBEBOOK_MANIFESTS)")
    return path


def overlays(root: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the overlays under ``<root>/overlays`` (folders with a kustomization file)."""
    base = manifests_root(root) / "overlays"
    return sorted(p.name for p in base.iterdir() if p.is_dir() and _kustomization(p))


def _kustomization(folder: Path) -> Path | None:
    return confine.kustomization_file(folder)


def overlay_path(overlay: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The folder of ``overlay``; ParameterError naming the known ones when it does not exist."""
    known = overlays(root)
    if not overlay or "/" in overlay or overlay.startswith(".") or overlay not in known:
        raise ParameterError(f"unknown overlay {overlay!r}", hint=f"choose one of: {', '.join(known)}")
    return manifests_root(root) / "overlays" / overlay


def kustomize(path: Path, kubectl: str | os.PathLike[str] | None = None, *, root: Path | None = None) -> str:
    """``kubectl kustomize PATH`` output; ParameterError with kustomize's own first error line.

    Every reference is first checked to stay inside ``root`` (default: the tree ``path`` is in).
    """
    confine.check(path, root if root is not None else confine.tree_root(path))
    if kubectl is None:
        from kubebook.localcluster.build import binary

        kubectl = binary("kubectl")
    proc = subprocess.run([str(kubectl), "kustomize", *LOAD_RESTRICTOR, str(path)],
                          capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **NO_FETCH})
    if proc.returncode != 0:
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"kustomize exited with {proc.returncode}"
        raise ParameterError(f"kustomize could not build {path}: {reason.removeprefix('error: ')}",
                             hint="fix the kustomization; nothing was applied")
    return proc.stdout


def parse(text: str, source: str) -> list[dict[str, Any]]:
    """The documents of kustomize's output, each checked to be one distinct Kubernetes object."""
    docs = [d for d in yamlload.parse_all(text, f"{source}: what kustomize printed") if d is not None]
    seen: set[tuple[str, str, str, str]] = set()
    problems = []
    for index, doc in enumerate(docs):
        meta = doc.get("metadata") if isinstance(doc, dict) else None
        if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind") or \
                not isinstance(meta, dict) or not meta.get("name"):
            problems.append(f"document {index + 1} is not a Kubernetes object (apiVersion, kind, metadata.name)")
            continue
        ident = (doc["apiVersion"].split("/")[0], doc["kind"], meta.get("namespace") or "", meta["name"])
        if ident in seen:
            problems.append(f"{doc['kind']} {meta.get('namespace', '')}/{meta['name']} appears twice")
        seen.add(ident)
    if problems:
        raise ParameterError(f"{source}: {problems[0]}" + (f" (and {len(problems) - 1} more)" if problems[1:] else ""),
                             hint="fix the manifests; nothing was applied")
    return docs


def build(overlay: str, root: str | os.PathLike[str] | None = None, *,
          kubectl: str | os.PathLike[str] | None = None) -> Built:
    """Build ``overlay`` (``dev``, ``staging``, ``prod`` ...) into its objects."""
    path = overlay_path(overlay, root)
    text = kustomize(path, kubectl, root=manifests_root(root))
    return Built(overlay, path, parse(text, f"overlay {overlay!r}"), text)


def build_path(path: str | os.PathLike[str], *, kubectl: str | os.PathLike[str] | None = None) -> Built:
    """Build any kustomization folder (a generated overlay, a test's broken one)."""
    folder = Path(path).expanduser()
    if not folder.is_dir() or not _kustomization(folder):
        raise ParameterError(f"{folder} is not a kustomization folder", hint="it needs a kustomization.yaml")
    text = kustomize(folder, kubectl)
    return Built(folder.name, folder, parse(text, str(folder)), text)


def select(built: Built, namespaces: str | list[str] | None) -> Built:
    """Only the cluster-wide objects and those of ``namespaces`` (comma-separated text or a list; empty: all).

    Objects in namespaces the overlay does not create (the policy ConfigMap in kube-system) are kept.

    An unknown namespace is a ParameterError listing the overlay's namespaces.
    """
    if isinstance(namespaces, str):
        namespaces = [n.strip() for n in namespaces.split(",") if n.strip()]
    if not namespaces:
        return built
    known = built.namespaces()
    unknown = [n for n in namespaces if n not in known]
    if unknown:
        raise ParameterError(f"overlay {built.overlay!r} has no namespace {', '.join(unknown)}",
                             hint=f"choose from: {', '.join(known)}")
    wanted = set(namespaces)

    def keep(obj: dict[str, Any]) -> bool:
        meta = obj["metadata"]
        if obj["kind"] == "Namespace":
            return meta["name"] in wanted
        namespace = meta.get("namespace")
        return not namespace or namespace not in known or namespace in wanted  # kube-system's config stays

    return Built(built.overlay, built.path, [o for o in built.objects if keep(o)], built.text)
