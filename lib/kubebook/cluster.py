"""The one way in to a cluster: resolve a kubeconfig, build API clients, page lists.

Resolution order for the kubeconfig (first that applies wins): the explicit
argument, ``$KUBEBOOK_KUBECONFIG``, the local control plane ``default``'s
kubeconfig when it exists, ``$KUBECONFIG`` / ``~/.kube/config``, then in-cluster
service-account credentials. Library code never shells out to kubectl.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from kubebook.errors import ClusterError, ClusterUnreachableError
from kubebook.localcluster.paths import kubeconfig_path

PAGE_SIZE = 500


def resolve_kubeconfig(kubeconfig: str | os.PathLike[str] | None = None) -> Path | None:
    """The kubeconfig file to use, or None for in-cluster credentials."""
    for candidate in (kubeconfig, os.environ.get("KUBEBOOK_KUBECONFIG")):
        if candidate:
            path = Path(candidate).expanduser()
            if not path.is_file():
                raise ClusterError(f"kubeconfig {path} does not exist",
                                   hint="pass an existing file or run 'kubebook cluster up'")
            return path
    local = kubeconfig_path()
    if local.is_file():
        return local
    env = os.environ.get("KUBECONFIG")
    if env:
        return Path(env.split(os.pathsep)[0]).expanduser()
    home = Path.home() / ".kube" / "config"
    if home.is_file():
        return home
    return None


@dataclass
class Cluster:
    """A connected cluster: typed API groups plus paging and identity helpers."""

    api_client: client.ApiClient
    kubeconfig: Path | None
    context: str | None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def server(self) -> str:
        return str(self.api_client.configuration.host)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api_client)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api_client)

    @property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api_client)

    @property
    def rbac(self) -> client.RbacAuthorizationV1Api:
        return client.RbacAuthorizationV1Api(self.api_client)

    @property
    def networking(self) -> client.NetworkingV1Api:
        return client.NetworkingV1Api(self.api_client)

    def version(self) -> dict[str, str]:
        """The server's /version, e.g. ``{"gitVersion": "v1.37.2", ...}``."""
        info = call(client.VersionApi(self.api_client).get_code, server=self.server)
        return {k: str(v) for k, v in self.api_client.sanitize_for_serialization(info).items() if v is not None}

    def fingerprint(self) -> str:
        """A stable identity for evidence: sha256 of the server URL and kube-system's UID."""
        if "fingerprint" not in self._cache:
            ns = call(self.core.read_namespace, "kube-system", server=self.server)
            digest = hashlib.sha256(f"{self.server}|{ns.metadata.uid}".encode()).hexdigest()
            self._cache["fingerprint"] = digest[:16]
        return str(self._cache["fingerprint"])

    def list_all(self, list_fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Yield every item of a paginated list call, one page (``PAGE_SIZE``) at a time."""
        token: str | None = None
        while True:
            page = call(list_fn, *args, limit=PAGE_SIZE, _continue=token, server=self.server, **kwargs)
            yield from page.items
            token = page.metadata._continue
            if not token:
                return


def call(fn: Callable[..., Any], *args: Any, server: str = "", **kwargs: Any) -> Any:
    """Call an API method, turning transport failures into a ClusterUnreachableError."""
    try:
        return fn(*args, **kwargs)
    except urllib3.exceptions.HTTPError as error:
        raise ClusterUnreachableError(
            f"the API server at {server or 'the configured address'} did not answer: {error.__class__.__name__}",
            hint="start the local cluster with 'kubebook cluster up' or pass --cluster/kubeconfig",
        ) from error
    except ApiException as error:
        if error.status in (401, 403):
            raise ClusterError(f"the API server refused the request ({error.status} {error.reason})",
                               hint="check the kubeconfig's credentials and RBAC") from error
        raise


def connect(kubeconfig: str | os.PathLike[str] | None = None, context: str | None = None,
            *, timeout_seconds: float = 10.0) -> Cluster:
    """Connect to a cluster and check that it answers; raises ClusterUnreachableError if not."""
    path = resolve_kubeconfig(kubeconfig)
    configuration = client.Configuration()
    try:
        if path is None:
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(config_file=str(path), context=context,
                                    client_configuration=configuration)
    except config.ConfigException as error:
        raise ClusterUnreachableError(
            f"no cluster configured: {error}",
            hint="run 'kubebook cluster up' for the local control plane, or pass a kubeconfig",
        ) from error
    configuration.retries = urllib3.Retry(total=3, connect=3, read=2, backoff_factor=0.2,
                                          status_forcelist=(502, 503, 504), allowed_methods=None)
    api_client = client.ApiClient(configuration)
    cluster = Cluster(api_client=api_client, kubeconfig=path, context=context)
    try:
        client.VersionApi(api_client).get_code(_request_timeout=timeout_seconds)
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise ClusterUnreachableError(
            f"the API server at {cluster.server} (kubeconfig {path}) did not answer",
            hint="start the local cluster with 'kubebook cluster up' or pass a reachable kubeconfig",
        ) from error
    return cluster
