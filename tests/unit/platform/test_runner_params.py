"""Parameter validation: coercion of -p strings, every problem listed, and no kernel for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubebook.cli import main
from kubebook.errors import ParameterError
from kubebook.runner import EXIT_INVALID_PARAMETERS, describe_parameters, run_notebook, validate_parameters
from kubebook.runner.params import coerce, load_params_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "notebooks"
TYPED = FIXTURES / "typed.ipynb"


def test_command_line_strings_are_coerced_by_schema_type() -> None:
    values = validate_parameters(TYPED, {"replicas": "4", "ratio": "1", "dry_run": "false",
                                         "names": "[a, b]", "namespace": "prod"})
    assert values["replicas"] == 4
    assert values["ratio"] == 1.0 and isinstance(values["ratio"], float)
    assert values["dry_run"] is False
    assert values["names"] == ["a", "b"]
    assert values["namespace"] == "prod"
    assert values["mode"] == "audit", "schema defaults fill what was not given"


def test_string_parameters_keep_text_that_looks_like_yaml() -> None:
    assert coerce("123", {"type": "string"}) == "123"
    assert coerce("true", {"type": ["integer", "string"]}) == "true"
    assert coerce("7", {"type": ["integer", "string"]}) == 7


def test_every_problem_is_listed_with_the_accepted_values() -> None:
    with pytest.raises(ParameterError) as caught:
        validate_parameters(TYPED, {"replicas": "11", "ratio": "lots", "mode": "chaos", "colour": "red"})
    problems = caught.value.problems
    text = "\n".join(problems)
    assert len(problems) == 5, text
    assert "unknown parameter 'colour'" in text and "accepted parameters: api_token, dry_run" in text
    assert any("'replicas'" in p and "1 <= value <= 10" in p for p in problems), text
    assert any("'ratio'" in p and "accepts number" in p for p in problems), text
    assert any("'mode'" in p and 'one of "audit", "enforce"' in p for p in problems), text
    assert any("missing required parameter 'namespace'" in p for p in problems), text
    assert "no kernel was started" in str(caught.value)


def test_a_secret_value_is_not_echoed_in_a_validation_problem() -> None:
    with pytest.raises(ParameterError) as caught:
        validate_parameters(TYPED, {"namespace": "ok", "api_token": ["not", "a", "string-S3CRET"]})
    assert "S3CRET" not in str(caught.value)
    assert any("'api_token' (secret)" in p for p in caught.value.problems)


def test_help_params_lists_types_defaults_and_descriptions() -> None:
    text = describe_parameters(TYPED)
    assert "replicas: integer, 1 <= value <= 10 [default 3]" in text
    assert "how many replicas" in text
    assert "namespace: string, matching /^[a-z0-9-]+$/ [required]" in text
    assert "api_token: string [secret; default ***REDACTED***]" in text


def test_params_file_must_be_a_mapping(tmp_path: Path) -> None:
    good = tmp_path / "p.yaml"
    good.write_text("replicas: 2\nnames: [x]\n")
    assert load_params_file(good) == {"replicas": 2, "names": ["x"]}
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ParameterError, match="not a mapping"):
        load_params_file(bad)


@pytest.fixture
def no_kernel(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every way of starting a kernel fail loudly, and note any attempt."""
    import jupyter_client.manager
    import papermill
    import papermill.engines

    from kubebook.runner import execute

    attempts: list[str] = []

    def refuse(name: str):  # type: ignore[no-untyped-def]
        def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
            attempts.append(name)
            raise AssertionError(f"{name} was called for invalid parameters")
        return spy

    monkeypatch.setattr(jupyter_client.manager.KernelManager, "_async_start_kernel", refuse("start_kernel"))
    monkeypatch.setattr(jupyter_client.manager.AsyncKernelManager, "start_kernel", refuse("start_kernel"))
    monkeypatch.setattr(papermill, "execute_notebook", refuse("papermill.execute_notebook"))
    monkeypatch.setattr(papermill.engines.NBClientEngine, "execute_notebook", refuse("NBClientEngine"))
    monkeypatch.setattr(execute, "execute", refuse("runner.execute"))
    return attempts


def test_invalid_parameters_never_start_a_kernel(no_kernel: list[str], tmp_path: Path) -> None:
    with pytest.raises(ParameterError) as caught:
        run_notebook(TYPED, {"replicas": "zero", "bogus": 1}, archive=tmp_path / "archive")
    assert len(caught.value.problems) == 3  # wrong type, unknown name, missing required namespace
    assert no_kernel == []
    assert not (tmp_path / "archive").exists(), "nothing is written for invalid input"


def test_cli_exits_2_listing_problems_without_a_kernel(no_kernel: list[str], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(TYPED), "-p", "replicas", "99", "-p", "namespace", "Bad_NS",
                 "--archive", str(tmp_path / "archive")])
    err = capsys.readouterr().err
    assert code == EXIT_INVALID_PARAMETERS == 2
    assert "parameter 'replicas': must be <= 10" in err and "99" not in err  # values are never echoed
    assert "parameter 'namespace'" in err and "matching /^[a-z0-9-]+$/" in err
    assert no_kernel == []
    assert not (tmp_path / "archive").exists()


def test_missing_kubeconfig_is_bad_input_before_any_kernel(no_kernel: list[str], tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="is not a file"):
        run_notebook(FIXTURES / "trivial.ipynb", {}, archive=tmp_path, kubeconfig=str(tmp_path / "nope"))
    assert no_kernel == []


def test_notebook_without_a_kernel_is_bad_input(no_kernel: list[str], tmp_path: Path) -> None:
    nb = json.loads((FIXTURES / "trivial.ipynb").read_text())
    del nb["metadata"]["kernelspec"]
    path = tmp_path / "nokernel.ipynb"
    path.write_text(json.dumps(nb))
    with pytest.raises(ParameterError, match="names no kernel"):
        run_notebook(path, {}, archive=tmp_path / "archive")
    assert no_kernel == [] and not (tmp_path / "archive").exists()
