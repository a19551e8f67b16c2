"""The mutation guard: dry run by default, apply only when confirmed, headless refusal without confirm."""

from __future__ import annotations

import pytest

from kubebook import notebook
from kubebook.changes import Change, diff_objects, summary
from kubebook.errors import ConfirmationRequired

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "uid": "1", "resourceVersion": "9"}}


def _changes() -> list[Change]:
    labelled = {**NS, "metadata": {**NS["metadata"], "labels": {"x": "y"}, "resourceVersion": "10"}}
    return [diff_objects(NS, labelled), diff_objects(None, NS), diff_objects(NS, dict(NS))]


def test_diff_ignores_server_fields_and_shows_yaml_lines() -> None:
    changed, created, same = _changes()
    assert (changed.action, created.action, same.action) == ("change", "create", "unchanged")
    assert "+  labels:" in changed.diff and "resourceVersion" not in changed.diff
    assert changed.key == "Namespace/a"
    assert summary(_changes())["change"] == 1


@pytest.fixture
def calls() -> list[int]:
    return []


def test_dry_run_never_applies(calls: list[int]) -> None:
    decision = notebook.guard(_changes(), lambda: calls.append(1), dry_run=True, confirm=True)
    assert decision.state == notebook.DRY_RUN and not calls


def test_confirmed_apply_runs_once(calls: list[int]) -> None:
    decision = notebook.guard(_changes(), lambda: calls.append(1) or "done", dry_run=False, confirm=True)
    assert decision.applied and calls == [1] and decision.result == "done"


def test_headless_apply_without_confirm_fails_and_changes_nothing(calls: list[int],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEBOOK_HEADLESS", "1")
    with pytest.raises(ConfirmationRequired, match="not confirmed"):
        notebook.guard(_changes(), lambda: calls.append(1), dry_run=False, confirm=False)
    assert not calls


def test_nothing_to_change_skips_apply(calls: list[int]) -> None:
    same = [diff_objects(NS, dict(NS))]
    decision = notebook.guard(same, lambda: calls.append(1), dry_run=False, confirm=True)
    assert decision.state == notebook.NOTHING and not calls


def test_interactive_waits_for_the_button(calls: list[int]) -> None:
    decision = notebook.guard(_changes(), lambda: calls.append(1), dry_run=False, confirm=False, interactive=True)
    assert decision.state == notebook.WAITING and not calls
