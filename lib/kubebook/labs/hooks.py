"""Setup steps that objects alone cannot express: events that must have happened before the lab.

Why: the forensics lab needs a real read of a Secret by a real identity in the audit log, so
its setup issues a bound service-account token and uses it, exactly as an attacker holding a
leaked token would.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from kubebook.labs.probes import Context

NS = "lab-forensics"


def forensics_incident(ctx: Context) -> None:
    """backup-agent's token (bound to Secret backup-agent-session) reads vault-token; ci-runner reads it too,
    legitimately; the token is kept as evidence in Secret leaked-token."""
    cluster = ctx.cluster
    session = cluster.get_object("v1", "Secret", "backup-agent-session", NS)
    if session is None:
        return
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
               "spec": {"expirationSeconds": 3600,
                        "boundObjectRef": {"apiVersion": "v1", "kind": "Secret", "name": "backup-agent-session",
                                           "uid": session["metadata"]["uid"]}}}
    issued = cluster.request("POST", f"/api/v1/namespaces/{NS}/serviceaccounts/backup-agent/token", body=request)
    token = issued["status"]["token"]
    cluster.with_token(token).request("GET", f"/api/v1/namespaces/{NS}/secrets/vault-token")
    cluster.impersonate(f"system:serviceaccount:{NS}:ci-runner").request(
        "GET", f"/api/v1/namespaces/{NS}/secrets/vault-token")
    cluster.apply_object({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "leaked-token", "namespace": NS},
                          "type": "Opaque", "data": {"token": base64.b64encode(token.encode()).decode()}},
                         field_manager="kubebook-lab-owner")


HOOKS: dict[str, Callable[[Context], Any]] = {"forensics_incident": forensics_incident}
