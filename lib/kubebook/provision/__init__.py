"""Provisioning: build a kustomize overlay of the security baseline, diff it, apply it, prove it.

``build(overlay)`` -> ``plan(cluster, objects)`` (the server's dry-run diff) ->
``apply(cluster, objects)`` (server-side apply, one field manager, dependency order) ->
``verify(cluster, built)`` (behavioural proof, pass/fail per control). The CLI and the runbook
mutate through ``apply_overlay`` / ``remove_overlay`` (lock, journal, ownership rules).
"""

from kubebook.provision.apply import FIELD_MANAGER, Applied, ApplyReport, apply, plan
from kubebook.provision.build import Built, build, build_path, overlays, select
from kubebook.provision.session import apply_overlay, remove_overlay
from kubebook.provision.verify import Control, summary, verify

__all__ = ["FIELD_MANAGER", "Applied", "ApplyReport", "Built", "Control", "apply", "apply_overlay", "build",
           "build_path", "overlays", "plan", "remove_overlay", "select", "summary", "verify"]
