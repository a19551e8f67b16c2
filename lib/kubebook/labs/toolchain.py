"""Which kubectl and kubeconfig a trainee's terminal uses, and how to make it the lab's.

Why: a lab says "work on each step with kubectl", and a JupyterLab terminal inherits the server's
environment - with KUBECONFIG unset and the host's own kubectl (any version) first on PATH, a trainee
talks to no cluster or the wrong one. ``kubebook lab jupyter`` starts JupyterLab with both set; the lab's
intro card shows what the kernel (and so the terminal) really has, and says how to fix it when it is
not the lab's cluster and kubebook's kubectl.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from kubebook.errors import BuildError
from kubebook.localcluster import build


def built_kubectl() -> Path | None:
    try:
        return build.binary("kubectl")
    except BuildError:
        return None


def environment(kubeconfig: Path, kubectl: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with KUBECONFIG (and KUBEBOOK_KUBECONFIG, which the
    notebooks' ``kubebook.cluster.connect()`` reads first) set to ``kubeconfig`` and kubectl's folder first on
    PATH, so a terminal, a kernel and ``kubectl`` all reach the same cluster."""
    env = dict(os.environ if base is None else base)
    first = str(kubectl.parent)
    folders = [first] + [p for p in env.get("PATH", "").split(os.pathsep) if p and p != first]
    env.update(KUBECONFIG=str(kubeconfig), KUBEBOOK_KUBECONFIG=str(kubeconfig), PATH=os.pathsep.join(folders))
    return env


def _same(a: str | os.PathLike[str] | None, b: str | os.PathLike[str] | None) -> bool:
    return bool(a and b) and Path(a).resolve() == Path(b).resolve()  # type: ignore[arg-type]


def terminal(cluster: Any = None) -> dict[str, Any]:
    """What a terminal started from this process's environment would use: ``kubeconfig`` ($KUBECONFIG),
    ``kubectl`` (first on PATH), ``built_kubectl`` (kubebook's), ``ready`` and ``advice`` (one line)."""
    kubeconfig = os.environ.get("KUBECONFIG")
    on_path = shutil.which("kubectl")
    built = built_kubectl()
    target = str(cluster.kubeconfig) if cluster is not None and getattr(cluster, "kubeconfig", None) else None
    problems = []
    if not kubeconfig:
        problems.append("KUBECONFIG is unset")
    elif target and not _same(kubeconfig, target):
        problems.append(f"KUBECONFIG is {kubeconfig}, not this lab's cluster ({target})")
    if built is None:
        problems.append("kubebook's kubectl is not built ('kubebook cluster build')")
    elif not _same(on_path, built):
        problems.append(f"the kubectl on PATH is {on_path or 'none'}, not kubebook's {built}")
    if problems:
        fix = f"export KUBECONFIG={target}; " if target else ""
        fix += f"export PATH={built.parent}:$PATH" if built else ""
        advice = "; ".join(problems) + " - start JupyterLab with 'kubebook lab jupyter', or in the terminal: " + fix
    else:
        advice = f"the terminal's kubectl is kubebook's ({built}) and KUBECONFIG is this lab's cluster"
    return {"kubeconfig": kubeconfig, "kubectl": on_path, "built_kubectl": str(built) if built else None,
            "cluster_kubeconfig": target, "ready": not problems, "advice": advice}
