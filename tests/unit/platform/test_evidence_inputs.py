"""Every input parser is bounded and every bad input is a short error with exit 2 (issue 10).

No kernel is started by any of these: each input is refused before one could be.
Inputs given as bytes (a non-UTF-8 argument) go through a real ``kubebook``
process, since only the operating system can hand Python such an argv.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubebook.cli import main
from kubebook.schedule.due import decide

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "notebooks"
TRIVIAL = FIXTURES / "trivial.ipynb"
TYPED = FIXTURES / "typed.ipynb"
BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
x: [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def short_error(err: str) -> None:
    assert "Traceback" not in err, err
    assert err.startswith("kubebook: ") and all(len(line) < 400 for line in err.splitlines()), err


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.err + captured.out


def kubebook(args: list[bytes], tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable.encode(), b"-m", b"kubebook.cli", *args], capture_output=True,
                          timeout=180, check=False, cwd=tmp_path)


@pytest.mark.parametrize("body", [BOMB.encode(), b"x: 1\nx: 2\n", b"x: \xff\xfe\n", b"x: " + b"7" * 5000 + b"\n",
                                  b"x: 1\n" + b"# pad\n" * 300_000, b"x: " + b"[" * 200 + b"]" * 200 + b"\n",
                                  b"x: 3.0\n", b"x: .nan\n"])
def test_a_parameters_file_is_parsed_with_bounds(body: bytes, tmp_path: Path) -> None:
    params = tmp_path / "p.yaml"
    params.write_bytes(body)
    result = kubebook([b"run", str(TRIVIAL).encode(), b"-f", str(params).encode(), b"--archive",
                       str(tmp_path / "a").encode()], tmp_path)
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2, err
    short_error(err)
    assert not (tmp_path / "a").exists(), "nothing was started"


def test_duplicate_keys_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_path / "p.yaml"
    params.write_text("x: 1\nx: 2\n")
    code, out = cli(["run", str(TRIVIAL), "-f", str(params), "--archive", str(tmp_path / "a")], capsys)
    assert code == 2 and "'x'" in out and "more than once" in out


@pytest.mark.parametrize("value", [b"\xff", b"7" * 5000, b"3.0", b".nan", b".inf"])
def test_a_bad_command_line_value_is_refused_before_any_kernel(value: bytes, tmp_path: Path) -> None:
    result = kubebook([b"run", str(TRIVIAL).encode(), b"-p", b"x", value, b"--archive",
                       str(tmp_path / "a").encode()], tmp_path)
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2, err
    short_error(err)
    assert not (tmp_path / "a").exists()


def test_a_yaml_error_never_echoes_the_line_it_is_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_path / "p.yaml"
    params.write_text('api_token: "s3cret-on-a-broken-line\nnamespace: x\n')
    code, out = cli(["run", str(TYPED), "-f", str(params), "--archive", str(tmp_path / "a")], capsys)
    assert code == 2 and "s3cret" not in out and "line" in out


def test_a_failing_keyword_at_the_root_never_prints_the_parameters(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    nb = json.loads(TYPED.read_text())
    nb["metadata"]["kubebook"]["parameters"]["maxProperties"] = 1
    notebook = tmp_path / "root_keyword.ipynb"
    notebook.write_text(json.dumps(nb))
    code, out = cli(["run", str(notebook), "-p", "api_token", "root-secret-91aa", "-p", "namespace", "ns",
                     "--archive", str(tmp_path / "a")], capsys)
    assert code == 2 and "root-secret-91aa" not in out and "at most 1 properties" in out
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(f"schedules:\n  - name: s\n    notebook: {notebook}\n    cron: '0 3 * * *'\n"
                         "    parameters: {api_token: root-secret-91aa, namespace: ns}\n")
    code, out = cli(["schedule", "validate", "--file", str(schedules)], capsys)
    assert code == 2 and "root-secret-91aa" not in out, out


@pytest.mark.parametrize("text", [
    b"schedules:\n  - name: s\n    notebook: NB\n    cron: '0 0 31 2 *'\n",
    b"schedules:\n  - name: s\n    notebook: /etc/passwd\n    cron: '0 3 * * *'\n",
    b"schedules:\n  - name: s\n    notebook: NB\n    cron: '0 3 * * *'\n    description: \xff\n",
    b"schedules:\n  - name: s\n    notebook: NB\n    cron: '0 3 * * *'\n    timeout: " + b"9" * 5000 + b"\n",
    b"schedules:\n  - name: s\n    notebook: NB\n    cron: '0 3 * * *'\n    description: '" + b"x" * 2_000_000 + b"'\n",
    b"schedules:\n  - name: s\n    notebook: NB\n    cron: '0 3 * * *'\n    cron: '0 4 * * *'\n",
])
def test_schedule_files_are_bounded_and_checked(text: bytes, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    schedules = tmp_path / "schedules.yaml"
    schedules.write_bytes(text.replace(b"NB", str(TRIVIAL).encode()))
    code, out = cli(["schedule", "validate", "--file", str(schedules)], capsys)
    assert code == 2, out
    short_error(out)
    assert "root:x:0" not in out, "the file named as notebook is never echoed"


def test_a_cron_that_never_fires_is_never_due_and_breaks_nothing() -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    decision = decide("0 0 31 2 *", now, datetime(2026, 1, 1, tzinfo=UTC))
    assert decision.due is None and decision.next_due is None
    assert any("never" in note for note in decision.notes)


def test_the_output_cap_setting_is_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = cli(["run", str(TRIVIAL), "--output-cap", "lots", "--archive", str(tmp_path / "a")], capsys)
    assert code == 2 and "--output-cap" in out
    monkeypatch.setenv("KUBEBOOK_OUTPUT_CAP", "-5")
    code, out = cli(["run", str(TRIVIAL), "--archive", str(tmp_path / "a")], capsys)
    assert code == 2 and "KUBEBOOK_OUTPUT_CAP" in out
    assert not (tmp_path / "a").exists()
