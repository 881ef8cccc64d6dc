"""Strip outputs and execution state from notebooks before commit: ``python -m clientstrategy.strip FILES``.

The tests refuse a committed notebook with outputs (``has_outputs``); ``make strip`` fixes it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

__all__ = ["has_outputs", "main", "strip_notebook"]


def has_outputs(path) -> list[int]:
    """Indexes of code cells that carry outputs or an execution count."""
    nb = nbformat.read(str(path), as_version=4)
    return [i for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]


def strip_notebook(path) -> bool:
    """Remove outputs, execution counts and run metadata in place; True when the file changed."""
    path = Path(path)
    before = path.read_text()
    nb = nbformat.reads(before, as_version=4)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs = []
            c.execution_count = None
        for key in ("execution", "papermill", "collapsed", "scrolled"):
            c.metadata.pop(key, None)
    for key in ("papermill", "widgets"):
        nb.metadata.pop(key, None)
    after = nbformat.writes(nb) + "\n"
    if after != before:
        path.write_text(after)
        return True
    return False


def main(argv=None) -> int:
    changed = [p for p in (argv if argv is not None else sys.argv[1:]) if strip_notebook(p)]
    for p in changed:
        print(f"stripped {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
