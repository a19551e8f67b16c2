"""The one way in to a cluster: resolve a kubeconfig, build API clients, page lists.

Resolution order for the kubeconfig (first that applies wins): the explicit
argument, ``$KUBEBOOK_KUBECONFIG``, the local control plane ``default``'s
kubeconfig when it exists, ``$KUBECONFIG`` / ``~/.kube/config``, then in-cluster
service-account credentials. Library code never shells out to kubectl.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from kubebook.errors import ApiError, ClusterError, ClusterUnreachableError, ParameterError
from kubebook.localcluster.paths import kubeconfig_path

PAGE_SIZE = 500
CONTEXT_ENV = "KUBEBOOK_CONTEXT"  # the context when none is passed: `kubebook run --context` hands it to kernels


def resolve_context(context: str | None = None) -> str | None:
    """The kubeconfig context to use: the argument, else ``$KUBEBOOK_CONTEXT``, else None (the current one)."""
    return context or os.environ.get(CONTEXT_ENV) or None


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

    # --- acting as someone else: ask the API server what a subject may do, as that subject (labs) ---

    def impersonate(self, user: str, group: str | None = None) -> Cluster:
        """This cluster acting as ``user`` (and ``group``) through the Impersonate-User/-Group headers.

        A request sent this way is authorized, admitted and audited as that subject's own would be,
        which is a stronger proof than reading its RBAC. With no group, the API server adds a service
        account's groups (or system:authenticated) itself. Cached per subject.
        """
        key = f"impersonate:{user}|{group or ''}"
        if key not in self._cache:
            api_client = client.ApiClient(self.api_client.configuration)
            api_client.default_headers.update(self.api_client.default_headers)
            api_client.set_default_header("Impersonate-User", user)
            if group:
                api_client.set_default_header("Impersonate-Group", group)
            self._cache[key] = Cluster(api_client=api_client, kubeconfig=self.kubeconfig, context=self.context)
        return self._cache[key]  # type: ignore[no-any-return]

    def with_token(self, token: str) -> Cluster:
        """This cluster's server and CA, authenticating with a bearer token (a service account's, say)."""
        source = self.api_client.configuration
        configuration = client.Configuration(host=source.host)
        configuration.ssl_ca_cert = source.ssl_ca_cert
        configuration.verify_ssl = source.verify_ssl
        configuration.api_key = {"authorization": f"Bearer {token}"}
        return Cluster(api_client=client.ApiClient(configuration), kubeconfig=None, context=self.context)

    # --- generic objects (raw JSON): any kind the server serves, found through discovery ---

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None,
                content_type: str = "application/json", accept: str = "application/json",
                timeout: float | None = None) -> Any:
        """One raw API call: JSON in, parsed JSON out; a non-2xx answer raises ApiError with the server's message."""
        url = self.server + path
        if query:
            url += "?" + self.api_client.parameters_to_url_query(
                {k: v for k, v in query.items() if v is not None}, None)
        headers = {"Accept": accept, "Content-Type": content_type}
        headers.update(self.api_client.default_headers)
        self.api_client.update_params_for_auth(headers, None, ["BearerToken"], path, method, body)
        # The client serialises a JSON body itself (a pre-serialised string would be sent as a JSON string);
        # other content types (apply-patch+yaml) go out as the text given here.
        json_body = content_type.split(";")[0].strip().endswith("json")
        if json_body and isinstance(body, str | bytes):
            body = json.loads(body)
        payload = body if body is None or json_body or isinstance(body, str | bytes) else json.dumps(body)

        def send() -> Any:
            response = self.api_client.call_api(method, url, header_params=headers, body=payload,
                                                _request_timeout=timeout)
            data = response.read()
            response.response.release_conn()  # back to the pool: the next page reuses the TLS connection
            if not 200 <= response.status <= 299:
                raise api_error(method, path, response.status, data)
            return json.loads(data) if data else None

        return call(send, server=self.server)

    def resources(self) -> dict[tuple[str, str], Resource]:
        """Every (apiVersion, kind) the server serves, from aggregated discovery (two requests), cached."""
        if "resources" not in self._cache:
            found: dict[tuple[str, str], Resource] = {}
            for path in ("/api", "/apis"):
                doc = self.request("GET", path, accept=DISCOVERY_V2)
                for group in doc.get("items") or []:
                    group_name = (group.get("metadata") or {}).get("name", "")
                    for version in group.get("versions") or []:
                        api_version = f"{group_name}/{version['version']}" if group_name else version["version"]
                        for res in version.get("resources") or []:
                            kind = (res.get("responseKind") or {}).get("kind")
                            if kind and "/" not in res["resource"]:
                                found.setdefault((api_version, kind), Resource(
                                    api_version, kind, res["resource"], res.get("scope") == "Namespaced",
                                    tuple(res.get("verbs") or ())))
            self._cache["resources"] = found
        return dict(self._cache["resources"])

    def forget_resources(self) -> None:
        """Drop the discovery cache (after a CRD was created, say)."""
        self._cache.pop("resources", None)

    def resource(self, api_version: str, kind: str) -> Resource:
        """The resource serving ``kind`` at ``apiVersion``; refreshes discovery once before giving up."""
        key = (api_version, kind)
        if key not in self.resources():
            self.forget_resources()
        found = self.resources().get(key)
        if found is None:
            raise ParameterError(f"the API server does not serve kind {kind} in {api_version}",
                                 hint="check apiVersion/kind, or install the CRD first")
        return found

    def object_path(self, api_version: str, kind: str, namespace: str | None = None,
                    name: str | None = None) -> str:
        """The REST path of a collection or one object."""
        res = self.resource(api_version, kind)
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        if res.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{res.plural}"
        return f"{base}/{name}" if name else base

    def get_object(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object as JSON, or None when it does not exist."""
        try:
            return self.request("GET", self.object_path(api_version, kind, namespace, name))
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def list_objects(self, api_version: str, kind: str, namespace: str | None = None, *,
                     label_selector: str | None = None) -> Iterator[dict[str, Any]]:
        """Every object of a kind (in ``namespace`` or everywhere), page by page, as JSON."""
        path = self.object_path(api_version, kind, namespace)
        for item in self.list_path(path, label_selector=label_selector):
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
            yield item

    def list_path(self, path: str, *, label_selector: str | None = None,
                  page_size: int = PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Every item of the collection at ``path`` (``/api/v1/pods``), ``page_size`` per request, as raw JSON.

        The fast path for big lists: no discovery and no model deserialization (parsing the
        JSON with ``json.loads`` is several times faster than the typed client's models).
        Items carry what the server sent: a list's items have no ``kind`` of their own.
        """
        token: str | None = None
        while True:
            page = self.request("GET", path, query={"limit": page_size, "continue": token,
                                                    "labelSelector": label_selector})
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return

    def get_text(self, path: str, *, query: dict[str, Any] | None = None) -> str:
        """A plain-text endpoint's answer (``/readyz?verbose``, ``/livez``): the body as text, whatever the status."""
        url = self.server + path
        if query:
            url += "?" + self.api_client.parameters_to_url_query(query, None)
        headers = {"Accept": "text/plain", **self.api_client.default_headers}
        self.api_client.update_params_for_auth(headers, None, ["BearerToken"], path, "GET", None)
        response = call(self.api_client.call_api, "GET", url, header_params=headers, server=self.server)
        data = bytes(response.read())
        response.response.release_conn()
        return data.decode("utf-8", "replace")

    def apply_object(self, obj: dict[str, Any], *, field_manager: str, dry_run: bool = False,
                     force: bool = True) -> dict[str, Any]:
        """Server-side apply one object; ``dry_run`` asks the server to answer without persisting."""
        meta = obj.get("metadata") or {}
        if not obj.get("apiVersion") or not obj.get("kind") or not meta.get("name"):
            raise ParameterError("an object to apply needs apiVersion, kind and metadata.name",
                                 hint=f"got {obj.get('kind')!r} {meta.get('name')!r}")
        path = self.object_path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        query = {"fieldManager": field_manager, "force": "true" if force else None,
                 "dryRun": "All" if dry_run else None}
        return self.request("PATCH", path, query=query, body=obj, content_type="application/apply-patch+yaml")

    def create_object(self, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """Create one object (POST); raises ApiError (status 409) when it exists."""
        meta = obj.get("metadata") or {}
        path = self.object_path(obj["apiVersion"], obj["kind"], meta.get("namespace"))
        return self.request("POST", path, query={"dryRun": "All" if dry_run else None}, body=obj)

    def delete_object(self, api_version: str, kind: str, name: str, namespace: str | None = None, *,
                      dry_run: bool = False) -> bool:
        """Delete one object (foreground); False when it was already gone."""
        try:
            self.request("DELETE", self.object_path(api_version, kind, namespace, name),
                         query={"dryRun": "All" if dry_run else None},
                         body={"propagationPolicy": "Foreground"})
        except ApiError as error:
            if error.status == 404:
                return False
            raise
        return True


def api_error(method: str, path: str, status: int, data: bytes) -> ApiError:
    """An ApiError carrying the server's Status message (what admission or validation said)."""
    try:
        doc = json.loads(data)
    except ValueError:
        doc = {}
    message = doc.get("message") if isinstance(doc, dict) else None
    reason = doc.get("reason", "") if isinstance(doc, dict) else ""
    return ApiError(message or f"{method} {path}: HTTP {status}", status=status, reason=str(reason or ""))


DISCOVERY_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"


@dataclass(frozen=True)
class Resource:
    """One served resource: what discovery says about a kind."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: tuple[str, ...]


def quantity(value: str | None) -> float:
    """A Kubernetes quantity (``250m``, ``1Gi``, ``4``) as a number; 0 for empty."""
    from kubernetes.utils import parse_quantity

    return float(parse_quantity(value)) if value else 0.0


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


_IN_MEMORY: dict[bytes, str] = {}  # credential bytes -> the memory-only file holding them, one per distinct value


def _credentials_off_disk(configuration: client.Configuration) -> None:
    """Move the credentials the kubernetes client just wrote to temporary files into memory-only files.

    Why: ``kube_config`` writes a kubeconfig's ``client-key-data`` (and certificates) to files in
    ``$TMPDIR`` that only an ``atexit`` hook removes, so every kernel or CLI ended by a signal left a
    private key behind (749 such files were found in /tmp after one CI run). A memfd has no name on
    disk and vanishes with its process, however that process ends; ``/proc/self/fd/N`` opens it.
    """
    from kubernetes.config import kube_config

    written = {path: key for key, path in kube_config._temp_files.items()}
    moved: set[str] = set()
    for attr in ("ssl_ca_cert", "cert_file", "key_file"):
        path = getattr(configuration, attr, None)
        if not path or path not in written:
            continue
        data = Path(path).read_bytes()  # one file may back two attributes (a CA that is also the client cert)
        if data not in _IN_MEMORY:
            fd = os.memfd_create(f"kubebook-{attr}", os.MFD_CLOEXEC)
            os.write(fd, data)
            _IN_MEMORY[data] = f"/proc/self/fd/{fd}"
        setattr(configuration, attr, _IN_MEMORY[data])
        moved.add(path)
    for path in moved:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        kube_config._temp_files.pop(written[path], None)  # its cache would hand out the deleted path again


def api_client_from_kubeconfig(kubeconfig: str | os.PathLike[str], context: str | None = None) -> client.ApiClient:
    """A bare API client for a kubeconfig, its credentials in memory only (the local cluster's own bootstrap)."""
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), context=context, client_configuration=configuration)
    _credentials_off_disk(configuration)
    return client.ApiClient(configuration)


def connect(kubeconfig: str | os.PathLike[str] | None = None, context: str | None = None,
            *, timeout_seconds: float = 10.0) -> Cluster:
    """Connect to a cluster and check that it answers; raises ClusterUnreachableError if not.

    An empty ``kubeconfig`` or ``context`` (a runbook parameter left empty) means the default one;
    the default context is ``$KUBEBOOK_CONTEXT`` when set (``kubebook run --context``), else the current one.
    """
    context = resolve_context(context)
    path = resolve_kubeconfig(kubeconfig)
    configuration = client.Configuration()
    try:
        if path is None:
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(config_file=str(path), context=context,
                                    client_configuration=configuration)
            _credentials_off_disk(configuration)
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
