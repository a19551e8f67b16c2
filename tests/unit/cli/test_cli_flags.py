"""CLI flags as kubectl has them: ``--kubeconfig``/``--context`` on every command that reaches a cluster,
``--name`` for a local cluster; the spellings of earlier versions parse to the same values and are hidden."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kubebook.cli import build_parser, main

# every subcommand that reaches a cluster, with the positional arguments it needs to parse
REACHES_A_CLUSTER: list[list[str]] = [
    ["run", "nb.ipynb"],
    *[["schedule", command] for command in ("list", "tick", "daemon", "run-all")],
    ["schedule", "run", "nightly"],
    ["audit"],
    *[["provision", command, "--overlay", "prod"] for command in ("diff", "apply", "verify", "remove")],
    *[["capacity", command] for command in ("collect", "forecast", "rightsize", "load")],
    *[["lab", command, "rbac-least-privilege"] for command in ("start", "check", "reset")],
    ["dr", "backup"],
    ["dr", "restore-namespace", "backup.tar.gz"],
]

# subcommands whose local cluster was named by another flag, with that old spelling
LOCAL_NAME_ALIASES: list[tuple[list[str], str]] = [
    (["audit"], "--control-plane"),
    (["provision", "apply", "--overlay", "prod"], "--control-plane"),
]

# every subcommand about a local cluster
LOCAL_CLUSTER: list[list[str]] = [
    *[["cluster", command] for command in ("up", "images", "down", "status", "kubeconfig")],
    ["cluster", "logs", "etcd-0"],
    *[["dr", command] for command in ("snapshot", "restore", "drill")],
    ["lab", "jupyter"],
    *[argv for argv, _ in LOCAL_NAME_ALIASES],
]


def parse(argv: list[str]) -> argparse.Namespace:
    return build_parser(argv).parse_args(argv)


def subparser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser of the (sub)command ``argv`` names (its positional words before the first flag)."""
    parser = build_parser(argv)
    for word in argv:
        if word.startswith("-"):
            break
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions or word not in actions[0].choices:
            break
        parser = actions[0].choices[word]
    return parser


def name_of(argv: list[str]) -> str:
    return " ".join(w for w in argv if not w.startswith("-") and w not in ("prod", "nb.ipynb"))


@pytest.mark.parametrize("argv", REACHES_A_CLUSTER, ids=name_of)
def test_kubeconfig_and_context_parse_like_the_old_spelling(argv: list[str]) -> None:
    new = parse([*argv, "--kubeconfig", "/tmp/kc", "--context", "ctx"])
    assert (new.kubeconfig, new.context) == ("/tmp/kc", "ctx")
    old = parse([*argv, "--cluster", "/tmp/kc"])
    assert vars(old) | {"context": "ctx"} == vars(new)
    plain = parse(argv)
    assert (plain.kubeconfig, plain.context) == (None, None)


@pytest.mark.parametrize("argv", REACHES_A_CLUSTER, ids=name_of)
def test_help_shows_kubeconfig_and_context_not_the_alias(argv: list[str]) -> None:
    text = subparser(argv).format_help()
    assert "--kubeconfig" in text and "--context" in text
    assert "--cluster" not in text


@pytest.mark.parametrize("argv", LOCAL_CLUSTER, ids=name_of)
def test_a_local_cluster_is_named_with_name(argv: list[str]) -> None:
    assert parse([*argv, "--name", "lab"]).name == "lab"
    text = subparser(argv).format_help()
    assert "--name" in text and "--control-plane" not in text


@pytest.mark.parametrize(("argv", "alias"), LOCAL_NAME_ALIASES, ids=lambda v: name_of(v) if isinstance(v, list) else v)
def test_the_old_local_cluster_flag_is_an_alias_of_name(argv: list[str], alias: str) -> None:
    assert vars(parse([*argv, alias, "lab"])) == vars(parse([*argv, "--name", "lab"]))


def test_audit_keeps_its_valueless_old_flags() -> None:
    """`kubebook audit --cluster` (usual resolution) and `--control-plane` (the cluster 'default') as before."""
    args = parse(["audit", "--cluster", "--control-plane"])
    assert (args.kubeconfig, args.name) == ("", "")


def test_audit_kubeconfig_and_manifests_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--kubeconfig", "--cluster"):
        with pytest.raises(SystemExit) as stop:
            main(["audit", "--manifests", ".", flag, "/tmp/kc"])
        assert stop.value.code == 2
    assert main(["audit", "--manifests", ".", "--context", "ctx"]) == 2
    assert "--context" in capsys.readouterr().err


def test_a_missing_kubeconfig_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--kubeconfig", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]


KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: first
clusters:
- {name: one, cluster: {server: "https://127.0.0.1:9"}}
- {name: two, cluster: {server: "https://127.0.0.2:9"}}
contexts:
- {name: first, context: {cluster: one, user: u}}
- {name: second, context: {cluster: two, user: u}}
users:
- {name: u, user: {token: x}}
"""


def test_context_picks_the_kubeconfig_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The context reaches the client: each unreachable server is named in its one-line error."""
    monkeypatch.setenv("KUBEBOOK_CONTEXT", "")  # restored after the test
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    assert main(["capacity", "collect", "--kubeconfig", str(kubeconfig), "--context", "second"]) != 0
    assert "127.0.0.2" in capsys.readouterr().err
    assert main(["capacity", "collect", "--cluster", str(kubeconfig)]) != 0
    assert "127.0.0.1:9" in capsys.readouterr().err


def test_context_is_handed_to_kernels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`kubebook run/schedule --context` exports $KUBEBOOK_CONTEXT, which cluster.connect reads by default."""
    from kubebook import cluster
    from kubebook.cli.flags import export_context

    monkeypatch.setenv("KUBEBOOK_CONTEXT", "")  # restored after the test
    export_context(parse(["run", "nb.ipynb", "--context", "second"]))
    assert cluster.resolve_context() == "second"
    assert cluster.resolve_context("first") == "first"  # a notebook's own context parameter wins
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    with pytest.raises(cluster.ClusterUnreachableError, match=r"127\.0\.0\.2"):
        cluster.connect(str(kubeconfig), timeout_seconds=1)


def _commands() -> list[tuple[str, argparse.ArgumentParser]]:
    """Every (sub)command parser of every group, with its name."""
    from kubebook.cli import GROUPS

    found: list[tuple[str, argparse.ArgumentParser]] = []

    def walk(name: str, parser: argparse.ArgumentParser) -> None:
        found.append((name, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child_name, child in action.choices.items():
                    walk(f"{name} {child_name}", child)

    for group, _, _ in GROUPS:
        top = build_parser([group])
        sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
        walk(group, sub.choices[group])
    return found


def test_no_command_shows_an_old_spelling_and_kubeconfig_comes_with_context() -> None:
    """Groups added later (certs, node, ...) keep the shape: the whole tree, not a list kept by hand."""
    for name, parser in _commands():
        visible = {o for a in parser._actions if a.help != argparse.SUPPRESS for o in a.option_strings}
        assert not visible & {"--cluster", "--control-plane"}, name
        if "--kubeconfig" in visible:
            assert "--context" in visible, name
            alias = [a for a in parser._actions if "--cluster" in a.option_strings]
            assert alias and alias[0].dest == "kubeconfig", f"{name}: --cluster is no alias of --kubeconfig"
