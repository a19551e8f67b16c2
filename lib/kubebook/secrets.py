"""Read Kubernetes Secrets so that their values can never reach a report.

Notebook code runs in a kernel, a separate process from the runner that writes
the archive. Every value read here is therefore handed to the runner through a
private side channel: the runner sets ``$KUBEBOOK_SECRET_SINK`` to a file in a
0700 temporary directory outside the archive; :func:`register_secret_values`
appends each value to it (mode 0600), and after the run the runner reads the
file, deletes it, and redacts those values (raw and base64) from the executed
notebook, its metadata and the HTML before anything is written.

Library code that obtains a secret value any other way must call
:func:`register_secret_values` with it. Outside a headless run (no sink, e.g. in
JupyterLab) registration only remembers the values in this process.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kubebook.errors import ClusterError

SINK_ENV = "KUBEBOOK_SECRET_SINK"
_registered: set[str] = set()


def register_secret_values(values: Iterable[str]) -> None:
    """Mark values as secret for this run; the runner redacts every one of them."""
    new = [v for v in dict.fromkeys(values) if isinstance(v, str) and v and v not in _registered]
    if not new:
        return
    _registered.update(new)
    sink = os.environ.get(SINK_ENV)
    if not sink:
        return
    fd = os.open(sink, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(v) + "\n" for v in new))


def registered() -> frozenset[str]:
    """The values registered in this process so far."""
    return frozenset(_registered)


def read_sink(path: Path) -> list[str]:
    """The values a kernel registered (runner side); a missing sink means none were."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    values: list[str] = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue  # a torn last line from a killed kernel; its value is also in the line before it
        if isinstance(value, str):
            values.append(value)
    return values


def _decode(encoded: str) -> str:
    raw = base64.b64decode(encoded)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_secret(cluster: Any, namespace: str, name: str) -> dict[str, str]:
    """The decoded data of Secret ``namespace/name``; every value is registered for redaction."""
    from kubebook.errors import ApiError

    try:
        secret = cluster.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
    except ApiError as error:
        if error.status == 404:
            raise ClusterError(f"Secret {namespace}/{name} does not exist",
                               hint="check the namespace and name (kubectl get secrets -n NAMESPACE)") from error
        raise
    encoded: dict[str, str] = dict(secret.get("data") or {})
    try:
        values = {key: _decode(value) for key, value in encoded.items()}
    except (binascii.Error, ValueError) as error:
        raise ClusterError(f"Secret {namespace}/{name} holds data that is not base64") from error
    # The base64 text the API returned is as secret as the value (binary values have no other form).
    register_secret_values([*values.values(), *encoded.values()])
    return values
