"""Shared fixtures: tiny canonical inputs, fixture notebooks, the small sample, a finished sample run."""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pandas as pd
import pytest

#: The project root (this file is ``<root>/tests/conftest.py``), wherever the checkout is.
ROOT = Path(__file__).resolve().parents[1]
#: ``../shared`` beside the project: the public datasets (``datasets/``) and acceptance material.
SHARED = ROOT.parent / "shared"
#: The public datasets every real-data and published-result test reads, read in place.
DATASETS = SHARED / "datasets"
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _no_open_context():
    """Each test starts without a notebook context left open by another (``nb.Context`` words headers by its window)."""
    from clientstrategy import nb

    nb._ACTIVE = None
    yield
    nb._ACTIVE = None


def write_notebook(path: Path, *code_cells: str, params: str = 'data_dir = ""\nas_of = ""\nartifacts_dir = ""') -> Path:
    """A numbered notebook: H1 title, a parameters cell, then ``code_cells``."""
    cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}\nA fixture notebook.")]
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    cells.append(p)
    cells += [nbformat.v4.new_code_cell(c) for c in code_cells]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


OK_CELL = """
import json, pathlib
a = pathlib.Path(artifacts_dir); (a / "_metrics").mkdir(parents=True, exist_ok=True)
(a / "_metrics" / "00_ok.json").write_text(json.dumps({"fixture": {"as_of": as_of}}))
(a / "ok.csv").write_text("x\\n1\\n")
print("fine")
"""


@pytest.fixture
def tiny_data(tmp_path) -> Path:
    """A minimal valid input: revenue for three clients and their clients table."""
    d = tmp_path / "tiny"
    d.mkdir()
    pd.DataFrame({"date": ["2025-01-15", "2025-03-02", "2025-06-30", "2025-05-01"],
                  "client_id": ["A", "A", "B", "C"], "amount": [100.0, 50.0, 80.0, 20.0]}).to_csv(d / "revenue.csv", index=False)
    pd.DataFrame({"client_id": ["A", "B", "C"], "client_name": ["Alpha", "Beta", "Gamma"]}).to_csv(d / "clients.csv", index=False)
    return d


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory) -> Path:
    """The generator's small sample (300 clients) written once per session; returns its tables folder."""
    from clientstrategy import sample

    out = tmp_path_factory.mktemp("sample-small")
    return Path(sample.write_sample(out, size="small"))


#: Set to ``required`` (CI does) to make the browser and PostgreSQL tests fail, not skip, when
#: Chromium, PostgreSQL or their Python drivers are absent, and the real-data and published-result
#: tests fail when a dataset of ``../shared/datasets`` is.
SYSTEM_TESTS_ENV = "CLIENTSTRATEGY_SYSTEM_TESTS"


def _system_tests_required() -> bool:
    return os.environ.get(SYSTEM_TESTS_ENV, "").strip().lower() == "required"


def shared_dataset(*parts: str) -> Path:
    """A file or folder of the public datasets, ``../shared/datasets/<parts>`` from the project root.

    Every test that reads a dataset takes its path from here (not from a fixed absolute path), so
    the tests find the data wherever the project is checked out beside ``shared/``. When the path
    is absent the test module still imports (its own ``skipif`` then skips it), except under
    ``CLIENTSTRATEGY_SYSTEM_TESTS=required`` (CI): there a missing dataset fails the collection of
    the module, so CI cannot pass by skipping the real-data and published-result tests.
    """
    path = DATASETS.joinpath(*parts)
    if not path.exists() and _system_tests_required():
        pytest.fail(f"dataset {path} is absent: the real-data and published-result tests read ../shared/datasets "
                    f"beside the project ({SYSTEM_TESTS_ENV}=required, so this is a failure, not a skip)",
                    pytrace=False)
    return path


def need_dataset(path: Path) -> Path:
    """``path`` if it exists; otherwise skip the test, or fail it under ``CLIENTSTRATEGY_SYSTEM_TESTS=required``."""
    if not Path(path).exists():
        message = f"dataset {path} is absent (the shared datasets are not on this machine)"
        if _system_tests_required():
            pytest.fail(f"{message} ({SYSTEM_TESTS_ENV}=required, so this is a failure, not a skip)", pytrace=False)
        pytest.skip(message)
    return Path(path)


@pytest.fixture(scope="session")
def system_requirement():
    """A function ``missing(message)`` for a test that needs a system component that is absent.

    It skips the test with ``message`` (which should name the package and how to install it), or
    fails it when ``CLIENTSTRATEGY_SYSTEM_TESTS=required`` is set, as in CI, so that a CI machine
    without Chromium or PostgreSQL cannot pass by skipping.
    """

    def missing(message: str):
        if _system_tests_required():
            pytest.fail(f"{message} ({SYSTEM_TESTS_ENV}=required, so this is a failure, not a skip)",
                        pytrace=False)
        pytest.skip(message)

    return missing
