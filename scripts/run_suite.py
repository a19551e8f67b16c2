"""Run every runbook headless with papermill and write the executed notebooks to an archive folder.

A stop-gap for `make run` until `kubebook schedule` runs the suite; exits non-zero
when any runbook fails and prints where the reports went.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import papermill

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--archive", default="reports", help="folder for executed notebooks")
    args = parser.parse_args()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out_dir = Path(args.archive).resolve() / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = []
    for notebook in sorted((ROOT / "runbooks").glob("*.ipynb")):
        target = out_dir / notebook.name
        try:
            papermill.execute_notebook(str(notebook), str(target), progress_bar=False, cwd=str(ROOT))
            print(f"ok      {notebook.name} -> {target}")
        except papermill.PapermillExecutionError as error:
            failed.append(notebook.name)
            print(f"FAILED  {notebook.name} -> {target}: {error.ename}: {error.evalue}")
    print(f"reports: {out_dir}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
