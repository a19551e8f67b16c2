"""Where the lifecycle commands point: a local cluster by ``--name``, or any cluster by kubeconfig/context.

Why here and not in the CLI: a runbook asks the same questions (which PKI, which kubeconfig, is the
API there) and must get the same answers, including the one-line error for a cluster that does not exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubebook.cluster import connect, resolve_kubeconfig
from kubebook.errors import ClusterError, ParameterError
from kubebook.lifecycle.certs import DEFAULT_WARN_DAYS, CertReport, check
from kubebook.localcluster.paths import NAME_PATTERN, cluster_dir, kubeconfig_path


def local_cluster(name: str) -> Path:
    """The directory of the kubebook local cluster ``name``; ParameterError when there is none."""
    if not NAME_PATTERN.match(name or ""):
        raise ParameterError(f"{name!r} is not a local cluster name", hint="lowercase letters, digits and '-'")
    root = cluster_dir(name)
    if not (root / "pki").is_dir():
        raise ParameterError(f"no local cluster named {name!r} (no {root / 'pki'})",
                             hint=f"start it with 'kubebook cluster up --name {name}', or pass --kubeconfig")
    return root


def target_kubeconfig(name: str | None, kubeconfig: str | None) -> str | None:
    """The kubeconfig to use: the local cluster's for ``name``, else ``kubeconfig`` (None: the usual resolution)."""
    if name and kubeconfig:
        raise ParameterError("pass --name (a local cluster) or --kubeconfig (any cluster), not both",
                             hint="--name lifecycle, or --kubeconfig ~/.kube/config")
    if name:
        local_cluster(name)
        return str(kubeconfig_path(name))
    if kubeconfig and not Path(kubeconfig).expanduser().is_file():
        raise ParameterError(f"kubeconfig {kubeconfig} does not exist", hint="pass an existing kubeconfig file")
    return kubeconfig


def connect_target(name: str | None, kubeconfig: str | None, context: str | None) -> Any:
    """A connected cluster for ``--name`` or ``--kubeconfig``/``--context``."""
    return connect(target_kubeconfig(name, kubeconfig), context)


def certs_check(*, name: str | None = None, kubeconfig: str | None = None, context: str | None = None,
                warn_days: int = DEFAULT_WARN_DAYS) -> CertReport:
    """``certs check``: the local PKI (with ``name``), the kubeconfig's client cert and the in-cluster sources.

    An API that does not answer, or refuses the kubeconfig's (expired) credentials, does not fail the
    check: the files are still listed, and the API is one ``unreadable`` entry (so the exit code is 1,
    never a silent pass).
    """
    if warn_days < 0:
        raise ParameterError(f"--warn-days must be 0 or more, got {warn_days}", hint="e.g. --warn-days 30")
    config = target_kubeconfig(name, kubeconfig)
    root = local_cluster(name) if name else None
    cluster, unreachable, path = None, None, None
    try:
        path = resolve_kubeconfig(config)  # a local cluster set up but never started has none yet
        cluster = connect(config, context)
    except ClusterError as error:  # unreachable, or refusing an expired client certificate: still list the files
        unreachable = f"the API could not be asked: {error.message}"
    return check(cluster=cluster, kubeconfig=path, context=context, local_root=root, warn_days=warn_days,
                 unreachable=unreachable)
