"""Every user-facing YAML file goes through the one bounded loader (kubebook.yamlload): a billion-laughs
alias bomb, a 50 MB file, 10,000-deep nesting and non-UTF-8 bytes each cost one line and exit 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kubebook.cli import main


def billion_laughs(path: Path) -> None:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 9) + "]")
    path.write_text("\n".join(lines) + "\n")


def fifty_megabytes(path: Path) -> None:
    with open(path, "wb") as handle:
        handle.write(b"waivers: []\n# ")
        handle.truncate(50 * 2**20)  # sparse: cheap to write, 50 MB to read


def deep(path: Path) -> None:
    path.write_text("[" * 10_000 + "]" * 10_000 + "\n")


def not_utf8(path: Path) -> None:
    path.write_bytes(b"waivers:\n- reason: caf\xe9\xff\n")


BAD: dict[str, Callable[[Path], None]] = {"billion-laughs": billion_laughs, "50MB": fifty_megabytes,
                                          "10000-deep": deep, "non-utf8": not_utf8}
WORDS = {"billion-laughs": "expands to more than", "50MB": "bytes", "10000-deep": "nest",
         "non-utf8": "UTF-8"}


def one_line(capsys: pytest.CaptureFixture[str], code: int, kind: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert WORDS[kind] in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("kind", BAD)
def test_waivers_file(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    waivers = tmp_path / "waivers.yaml"
    BAD[kind](waivers)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: y}\n")
    line = one_line(capsys, main(["audit", "--manifests", str(tmp_path / "m"), "--waivers", str(waivers)]), kind)
    assert "waivers" in line


@pytest.mark.parametrize("kind", BAD)
def test_schedules_file(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schedules = tmp_path / "schedules.yaml"
    BAD[kind](schedules)
    one_line(capsys, main(["schedule", "validate", "--file", str(schedules)]), kind)


@pytest.mark.parametrize("kind", BAD)
def test_parameters_file(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_path / "params.yaml"
    BAD[kind](params)
    notebook = Path(__file__).resolve().parents[3] / "runbooks" / "cluster-info.ipynb"
    one_line(capsys, main(["run", str(notebook), "-f", str(params), "--prepare-only",
                           "-o", str(tmp_path / "out.ipynb")]), kind)
    assert not (tmp_path / "out.ipynb").exists()


@pytest.mark.parametrize("kind", BAD)
def test_lab_catalog(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    from kubebook.labs import model

    (tmp_path / "catalog").mkdir()
    BAD[kind](tmp_path / "catalog" / "bad.yaml")
    monkeypatch.setattr(model.resources, "files", lambda package: tmp_path)
    model.catalog.cache_clear()
    try:
        one_line(capsys, main(["lab", "list"]), kind)
    finally:
        model.catalog.cache_clear()


@pytest.mark.parametrize("kind", BAD)
def test_overlay_kustomization(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    overlay = tmp_path / "overlays" / "bad"
    overlay.mkdir(parents=True)
    BAD[kind](overlay / "kustomization.yaml")
    one_line(capsys, main(["provision", "build", "--overlay", "bad", "--manifests", str(tmp_path)]), kind)


def test_the_bounds_are_the_runners() -> None:
    """One loader: the runner's parameter files and every other reader share its bounds."""
    from kubebook import yamlload
    from kubebook.runner import params

    assert params.yamlload is yamlload
    assert (yamlload.MAX_FILE_BYTES, yamlload.MAX_DEPTH, yamlload.MAX_NODES) == (2**20, 64, 100_000)


def test_a_manifest_alias_bomb_is_refused_by_the_fast_door(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`kubebook audit --manifests` reads with the fast door; a document with many aliases is checked first
    (a Pod whose args expand to 531,441 strings was audited as it was, exit 1)."""
    lines = ["apiVersion: v1", "kind: Pod", "metadata: {name: x, namespace: y}",
             "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 7):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 9) + "]")
    lines.append("spec: {containers: [{name: c, image: i, args: *g}]}")
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    one_line(capsys, main(["audit", "--manifests", str(tmp_path)]), "billion-laughs")


def test_the_fast_door_reads_a_few_aliases_as_before() -> None:
    from kubebook import yamlload

    text = "a: &x {k: v}\nb: *x\nc: *x\n"
    assert yamlload.load(text) == {"a": {"k": "v"}, "b": {"k": "v"}, "c": {"k": "v"}}


def test_no_module_but_yamlload_calls_a_yaml_loader() -> None:
    """One YAML loader: a new `yaml.safe_load` elsewhere in lib/ would skip the bounds."""
    import re

    lib = Path(__file__).resolve().parents[3] / "lib" / "kubebook"
    call = re.compile(r"\b(?:yaml\.(?:safe_load|load|safe_load_all|load_all|compose|compose_all|SafeLoader|"
                      r"CSafeLoader|FullLoader|UnsafeLoader)|ryaml\.loads?)\b")
    offenders = [f"{path.relative_to(lib)}:{n}" for path in lib.rglob("*.py") if path.name != "yamlload.py"
                 or path.parent != lib for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if call.search(line)]
    assert offenders == []
