"""Rendered CronJobs take secret parameters from a Secret reference and pass any value `kubebook run` accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from kubebook.cli import build_parser
from kubebook.cli.run_cmd import _parameters
from kubebook.errors import ParameterError
from kubebook.schedule import cronjobs
from kubebook.schedule.model import Schedule

SECRET = "tok-9f8e7d6c5b4a3928"


def notebook(root: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kubebook"] = {
        "title": "t", "description": "d", "category": "c", "risk": "readonly",
        "parameters": {"type": "object", "properties": {
            "token": {"type": "string", "writeOnly": True},
            "password": {"type": "string", "secret": True},
            "flag": {"type": "string"},
            "count": {"type": "integer"},
        }},
        "rbac": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}
    path = root / "runbooks" / "t.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def render(tmp_path: Path, parameters: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    schedule = Schedule(name="nightly", notebook=notebook(tmp_path), cron="@daily", parameters=parameters)
    texts = cronjobs.render([schedule], root=tmp_path)
    container = yaml.safe_load(texts["cronjob-nightly.yaml"])["spec"]["jobTemplate"]["spec"]["template"][
        "spec"]["containers"][0]
    return texts, container


def test_a_write_only_parameter_never_appears_in_the_rendered_manifests(tmp_path: Path) -> None:
    texts, container = render(tmp_path, {"token": SECRET, "password": "pw-0123456789abcdef", "count": 3})
    for name, text in texts.items():
        assert SECRET not in text, name
        assert "pw-0123456789abcdef" not in text, name
    env = {e["name"]: e for e in container["env"]}
    assert env["KUBEBOOK_PARAM_TOKEN"]["valueFrom"] == {
        "secretKeyRef": {"name": "kubebook-nightly-parameters", "key": "token"}}
    assert env["KUBEBOOK_PARAM_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "password"
    command = container["command"]
    assert command[command.index("token") - 1] == "--parameter-env"
    assert command[command.index("count") - 1:command.index("count") + 2] == ["-p", "count", "3"]


def run_args(container: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """What `kubebook run` makes of the rendered command with the pod's environment."""
    argv = container["command"][1:]
    args = build_parser(argv).parse_args(argv)
    return _parameters(args, environ=env)


def test_the_rendered_command_is_one_kubebook_run_parses_with_the_secret_from_the_environment(
        tmp_path: Path) -> None:
    _, container = render(tmp_path, {"token": SECRET, "flag": "-x", "count": 3})
    env = {e["name"]: e.get("value", SECRET) for e in container["env"]}
    assert run_args(container, env) == {"token": SECRET, "flag": "-x", "count": "3"}


@pytest.mark.parametrize("value", ["-x", "--help", "-1", "-"])
def test_a_value_starting_with_a_dash_renders_in_a_form_kubebook_run_accepts(tmp_path: Path, value: str) -> None:
    _, container = render(tmp_path, {"flag": value})
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    assert run_args(container, env)["flag"] == value


def test_a_missing_parameter_environment_variable_is_a_one_line_error() -> None:
    argv = ["run", "nb.ipynb", "--parameter-env", "token", "KUBEBOOK_PARAM_TOKEN"]
    args = build_parser(argv).parse_args(argv)
    with pytest.raises(ParameterError, match="KUBEBOOK_PARAM_TOKEN"):
        _parameters(args, environ={})


def kubelet_expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion of command and env values: '$$' is '$', '$(NAME)' a defined variable."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text) and text[i + 1] == "$":
            out.append("$")
            i += 2
        elif text[i] == "$" and i + 1 < len(text) and text[i + 1] == "(" and ")" in text[i:]:
            end = text.index(")", i)
            name = text[i + 2:end]
            out.append(env.get(name, text[i:end + 1]))
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@pytest.mark.parametrize("value", ["$(HOME)", "-$(HOME)", "a$$b"])
def test_a_dollar_reference_in_a_value_reaches_kubebook_run_as_written(tmp_path: Path, value: str) -> None:
    _, container = render(tmp_path, {"flag": value})
    env = {e["name"]: kubelet_expand(e["value"], {"HOME": "/tmp/home"}) for e in container["env"] if "value" in e}
    container["command"] = [kubelet_expand(arg, env) for arg in container["command"]]
    assert run_args(container, env)["flag"] == value
