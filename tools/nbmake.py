"""Write a kubebook notebook from a compact Python description (a developer tool).

Notebooks are generated from these specs so that their JSON stays clean (no
outputs, stable ids) and their metadata follows the conventions by construction.
Usage: ``python tools/nbmake.py SPEC.py OUT.ipynb`` where SPEC.py defines
``META`` (the kubebook metadata block) and ``CELLS`` (a list of ("md"|"code"|"params", source)).
"""

from __future__ import annotations

import hashlib
import runpy
import sys

import nbformat


def build(meta: dict, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["kubebook"] = meta
    for index, (kind, source) in enumerate(cells):
        source = source.strip("\n")
        if kind == "md":
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            cell = nbformat.v4.new_code_cell(source)
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
        cell.id = hashlib.sha1(f"{meta['title']}-{index}".encode()).hexdigest()[:8]
        nb.cells.append(cell)
    return nb


if __name__ == "__main__":
    spec = runpy.run_path(sys.argv[1])
    nbformat.write(build(spec["META"], spec["CELLS"]), sys.argv[2])
