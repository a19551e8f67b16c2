"""The post-run leak scan catches a Secret's data values shown in a plan diff, in any of its shapes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import nbformat

from kubebook.changes import diff_objects
from kubebook.runner import EXIT_LEAKED, run_notebook
from kubebook.runner.secretdiffs import findings_in_text, findings_in_value

VALUE = "s3cret-Value-7d1f9a"
B64 = base64.b64encode(VALUE.encode()).decode()


def secret(data: dict[str, str] | None = None, string_data: dict[str, str] | None = None,
           name: str = "db") -> dict:
    obj: dict = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                 "metadata": {"name": name, "namespace": "app", "labels": {"team": "platform"}}}
    if data is not None:
        obj["data"] = data
    if string_data is not None:
        obj["stringData"] = string_data
    return obj


def test_a_created_secret_in_a_diff_is_found_by_key_never_by_value() -> None:
    change = diff_objects(None, secret({"password": B64, "user": base64.b64encode(b"admin-user").decode()}))
    found = findings_in_text(change.diff)
    assert sorted(found) == ["Secret/app/db: data 'password' shown in a diff", "Secret/app/db: data 'user' shown "
                                                                              "in a diff"]
    assert all(VALUE not in f and B64 not in f for f in found)


def test_a_changed_value_deep_in_a_large_secret_is_found_without_the_data_line_in_context() -> None:
    before = {f"key{i:02d}": base64.b64encode(f"value-number-{i}".encode()).decode() for i in range(20)}
    after = {**before, "key15": B64}
    change = diff_objects(secret(before), secret(after))
    assert "data:" not in change.diff.split("@@", 2)[2]  # the hunk starts below the data: line
    # the changed line and its context lines (unchanged values are values too)
    assert findings_in_text(change.diff) == [f"Secret/app/db: data 'key{i}' shown in a diff" for i in range(12, 19)]


def test_string_data_and_block_scalars_are_found_and_metadata_is_not() -> None:
    change = diff_objects(None, secret(string_data={"config": "line one of it\nline two of it\n", "token": VALUE}))
    found = findings_in_text(change.diff)
    assert "Secret/app/db: stringData 'config' shown in a diff" in found
    assert "Secret/app/db: stringData 'token' shown in a diff" in found
    renamed = diff_objects(secret({"password": "***REDACTED***"}, name="a"), secret({"password": "***REDACTED***"},
                                                                                    name="b"))
    assert findings_in_text(renamed.diff) == []


def test_value_free_diffs_and_other_kinds_pass() -> None:
    from kubebook.dr.restore import shown

    hashed = diff_objects(shown(secret({"password": B64})), shown(secret({"password": base64.b64encode(
        b"another-value-x").decode()})))
    assert "password" in hashed.diff and findings_in_text(hashed.diff) == []
    config = diff_objects(None, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                                 "data": {"password": "not-a-secret-here"}})
    assert findings_in_text(config.diff) == []


def test_a_secret_object_recorded_as_data_is_found() -> None:
    assert findings_in_value({"plan": [secret({"password": B64})]}) == ["Secret/app/db: data 'password' recorded"]
    assert findings_in_value({"plan": [secret({"password": "(hidden; 9 bytes, keyed hash 0a1b)"})]}) == []


def test_a_run_whose_report_shows_a_secret_diff_is_leaked_and_quarantined(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("namespace = 'app'  # where")
    params.metadata["tags"] = ["parameters"]
    obj = secret({"password": B64})
    nb.cells = [params, nbformat.v4.new_code_cell(
        "from kubebook.changes import diff_objects\nfrom kubebook.views.changes import changes_view\n"
        f"changes_view([diff_objects(None, {obj!r})])")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["kubebook"] = {"title": "plan", "description": "d", "category": "test", "risk": "readonly",
                               "rbac": [], "parameters": {"type": "object",
                                                          "properties": {"namespace": {"type": "string"}}}}
    path = tmp_path / "plan.ipynb"
    nbformat.write(nb, path)
    outcome = run_notebook(path, {}, archive=tmp_path / "archive")
    assert (outcome.status, outcome.exit_code) == ("leaked", EXIT_LEAKED), outcome.error
    assert "Secret/app/db: data 'password'" in (outcome.error or "")
    assert outcome.run_dir is not None and ".quarantine" in outcome.run_dir.parts
    report = json.loads((outcome.run_dir / "quarantine.json").read_text())
    assert B64 not in json.dumps(report) and VALUE not in json.dumps(report)
    assert not list((tmp_path / "archive").glob("plan/*"))  # nothing sealed


def test_the_html_view_of_a_plan_is_read_as_its_text() -> None:
    from kubebook.views.changes import changes_view

    view = changes_view([diff_objects(None, secret({"password": B64}))])
    assert findings_in_text(view._repr_html_()) == ["Secret/app/db: data 'password' shown in a diff"]
