"""Archive safety: prune and verify act only on real run folders inside the root.

Each test reproduces a way an attacker or a careless hand broke the archive
(issue 10): a run folder swapped for a symlink, a ledger path that climbs out of
the root, notebooks whose names collapse to one runbook name, an archive that
cannot be written. The runs are sealed through Archive.seal_run, as the runner does.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kubebook.archive import Archive, default_root, ledger, notebook_identity, repository_root
from kubebook.cli import main
from kubebook.errors import ArchiveError

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def seal(archive: Archive, run_id: str, started: datetime, *, runbook: str = "audit",
         notebook: str | None = None, status: str = "succeeded") -> Path:
    return archive.seal_run(run_id=run_id, runbook=runbook, started=started, ended=started + timedelta(seconds=1),
                            status=status, exit_code=0, trigger="cli", notebook=notebook,
                            artifacts={"notebook.ipynb": b"{}", "report.html": b"<p>r</p>",
                                       "results.json": b"{}"})


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    archive = Archive(tmp_path / "reports")
    for i in range(4):
        seal(archive, f"run-{i}", T0 + timedelta(hours=i))
    return archive


def outside(tmp_path: Path) -> Path:
    victim = tmp_path / "precious"
    victim.mkdir()
    (victim / "keep.txt").write_text("not the archive's to delete")
    return victim


def _unseal(path: Path) -> None:
    os.chmod(path, 0o755)


def test_a_run_folder_swapped_for_a_symlink_is_never_followed(archive: Archive, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    victim = outside(tmp_path)
    folder = archive.root / "audit/2026/03/run-0"
    _unseal(folder)
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()
    folder.symlink_to(victim, target_is_directory=True)
    problems = archive.verify()
    assert any("audit/2026/03/run-0" in p and "symbolic link" in p for p in problems), problems
    for _ in range(2):  # refused, with the reason, every time; never NotADirectoryError
        code = main(["reports", "prune", "--keep-last", "2", "--archive", str(archive.root)])
        err = capsys.readouterr().err
        assert code != 0 and "refused" in err and "symbolic link" in err and "Traceback" not in err
    assert (victim / "keep.txt").read_text() == "not the archive's to delete"
    assert len(archive.list_runs()) == 4, "a refused prune deletes nothing"


def test_a_ledger_path_outside_the_root_is_named_and_never_deleted(archive: Archive, tmp_path: Path) -> None:
    victim = outside(tmp_path)
    rel = os.path.relpath(victim, archive.root)  # ../precious, a correctly chained entry
    with archive._locked():
        ledger.append(archive.ledger_path, {"type": "run", "run_id": "evil", "runbook": "audit", "path": rel,
                                            "status": "failed", "started": (T0 - timedelta(days=9)).isoformat(),
                                            "artifacts": {}})
    assert any("line 5" in p and "outside the archive" in p for p in archive.verify()), archive.verify()
    with pytest.raises(ArchiveError, match="refused"):
        archive.prune(keep_last=1)
    assert (victim / "keep.txt").exists()


def test_a_symlinked_runbook_folder_is_not_followed_either(archive: Archive, tmp_path: Path) -> None:
    victim = outside(tmp_path)
    (victim / "2026" / "03" / "run-9").mkdir(parents=True)
    (archive.root / "elsewhere").symlink_to(victim, target_is_directory=True)
    problems = archive.verify()
    assert any(p.startswith("elsewhere:") and "symbolic link" in p for p in problems), problems
    with pytest.raises(ArchiveError, match="refused"):
        archive.prune(keep_last=1)
    assert (victim / "2026" / "03" / "run-9").is_dir()


def test_notebooks_whose_names_collapse_keep_their_own_retention(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "reports")
    names = ["ops/a b.ipynb", "ops/a&b.ipynb", "ops/a-b.ipynb"]
    for n, notebook in enumerate(names):
        seal(archive, f"only-{n}", T0 + timedelta(hours=n), runbook="a-b", notebook=notebook)
    plan = archive.prune(keep_last=1)
    assert plan.remove == []
    assert sorted(r.notebook for r in archive.list_runs()) == sorted(names)
    assert [r.run_id for r in archive.list_runs(runbook="ops/a&b.ipynb")] == ["only-1"]


def test_notebook_identity_is_the_path_in_its_repository_or_a_declared_id(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "runbooks").mkdir()
    plain = repo / "runbooks" / "a b.ipynb"
    plain.write_text(json.dumps({"cells": [], "metadata": {}}))
    declared = repo / "runbooks" / "x.ipynb"
    declared.write_text(json.dumps({"cells": [], "metadata": {"kubebook": {"id": "dr/restore-drill"}}}))
    assert notebook_identity(plain) == "runbooks/a b.ipynb"
    assert notebook_identity(declared) == "dr/restore-drill"
    assert repository_root(repo / "runbooks") == repo


def test_default_root_is_flag_then_env_then_repository_reports_always_absolute(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "runbooks").mkdir()
    monkeypatch.chdir(repo / "runbooks")
    monkeypatch.delenv("KUBEBOOK_ARCHIVE", raising=False)
    assert default_root() == repo / "reports"
    monkeypatch.setenv("KUBEBOOK_ARCHIVE", "evidence")
    assert default_root() == repo / "evidence"
    assert default_root("other") == repo / "other"
    assert default_root(tmp_path / "abs") == tmp_path / "abs"
    assert Archive().root == repo / "evidence"


def test_run_record_to_dict_is_the_one_row_shape(archive: Archive) -> None:
    row = archive.list_runs()[0].to_dict()
    assert row["run_id"] == "run-3" and row["path"] == "audit/2026/03/run-3"
    assert row["report"] == "audit/2026/03/run-3/report.html" and row["notebook"] == "audit"
    index = json.loads((archive.root / "index.json").read_text())["runs"][0]
    assert {k: index[k] for k in ("run_id", "runbook", "status", "path", "report")} == \
        {k: row[k] for k in ("run_id", "runbook", "status", "path", "report")}


def test_prune_and_index_on_an_unwritable_archive_are_one_line_errors(archive: Archive,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    read_only = os.geteuid() != 0  # root writes anyway: then the index path is a folder, a real EISDIR
    if read_only:
        os.chmod(archive.root, 0o555)
    else:
        for name in ("index.json", "index.html"):
            (archive.root / name).unlink()
            (archive.root / name).mkdir()
    try:
        for command in (["prune", "--keep-last", "1"], ["index"]):
            code = main(["reports", *command, "--archive", str(archive.root)])
            err = capsys.readouterr().err
            assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
            assert "is not writable" in err
    finally:
        os.chmod(archive.root, 0o755)
    if read_only:
        assert len(archive.list_runs()) == 4
