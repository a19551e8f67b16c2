"""A notebook that says `risk: readonly` may only read: no wildcards, no write verbs, and no runner role with them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_conventions import good_notebook, write

from kubebook.conventions import check_notebook, readonly_rbac_problems
from kubebook.errors import ParameterError
from kubebook.schedule import cronjobs
from kubebook.schedule.model import Schedule

WILDCARD = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}


def readonly_with(tmp_path: Path, rules: list[dict[str, Any]], risk: str = "readonly") -> Path:
    nb = good_notebook()
    nb.metadata["kubebook"]["rbac"] = rules
    nb.metadata["kubebook"]["risk"] = risk
    return write(tmp_path, nb)


@pytest.mark.parametrize("rule, named", [
    (WILDCARD, "'*'"),
    ({"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}, "resource '*'"),
    ({"apiGroups": ["*"], "resources": ["pods"], "verbs": ["list"]}, "API group '*'"),
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}, "verb '*'"),
    ({"apiGroups": [""], "resources": ["pods/*"], "verbs": ["get"]}, "resource 'pods/*'"),
    ({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]}, "verb 'patch'"),
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]}, "verb 'delete'"),
    ({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["escalate"]},
     "verb 'escalate'"),
])
def test_a_readonly_notebook_with_a_wildcard_or_a_write_verb_breaks_the_conventions(
        tmp_path: Path, rule: dict[str, Any], named: str) -> None:
    problems = [p.message for p in check_notebook(readonly_with(tmp_path, [rule]))]
    assert any("readonly" in p and named in p for p in problems), problems


def test_read_verbs_on_named_resources_are_fine_for_readonly_and_a_mutating_notebook_may_write(
        tmp_path: Path) -> None:
    reads = [{"apiGroups": ["", "apps"], "resources": ["pods", "pods/log", "deployments"],
              "verbs": ["get", "list", "watch"]}]
    assert check_notebook(readonly_with(tmp_path, reads)) == []
    assert readonly_rbac_problems(reads) == []
    assert check_notebook(readonly_with(tmp_path, [WILDCARD], risk="mutating")) == []


def test_the_runner_refuses_to_render_a_readonly_role_with_wildcards(tmp_path: Path) -> None:
    path = readonly_with(tmp_path, [WILDCARD])
    schedule = Schedule(name="sneaky", notebook=path, cron="@daily")
    with pytest.raises(ParameterError, match="readonly") as caught:
        cronjobs.render([schedule], root=tmp_path)
    assert "\n" not in caught.value.message
