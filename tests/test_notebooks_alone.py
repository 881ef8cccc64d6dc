"""Every notebook runs on its own: what an earlier notebook should have left is computed, and said.

An analyst opens one notebook in JupyterLab with an empty artifacts folder. A notebook that needs
an earlier notebook's artifact runs the notebooks that write it first (``nb.Context.ensure_upstream``,
through ``runner.run_notebooks``) instead of stopping; the others degrade as they say.
"""
from __future__ import annotations

import json

import nbformat
import pandas as pd
import papermill
import pytest

from clientstrategy import nb, paths, runner
from conftest import write_notebook

NOTEBOOKS = sorted(paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))

WRITE = """
from clientstrategy import nb
ctx = nb.Context(data_dir=data_dir, as_of=as_of, artifacts_dir=artifacts_dir, name="{name}")
{body}
"""


@pytest.fixture
def chain(tmp_path, tiny_data):
    """Four fixture notebooks: 01 writes a.csv, 02 fills the profile, 03 writes b.csv from a.csv, 04 reads."""
    d = tmp_path / "nbs"
    write_notebook(d / "01_first.ipynb", WRITE.format(name="01_first", body=(
        'import pandas as pd\nctx.write_artifact("a.csv", pd.DataFrame({"x": [1, 2]}))')))
    write_notebook(d / "02_second.ipynb", WRITE.format(name="02_second", body=(
        'import pandas as pd\nctx.update_profile(pd.DataFrame({"client_id": ["A", "B"], "tier": ["Gold", "Bronze"]}))')))
    write_notebook(d / "03_third.ipynb", WRITE.format(name="03_third", body=(
        'a = ctx.read_artifact("a.csv")\nctx.write_artifact("b.csv", a.assign(y=a["x"] * 10))')))
    write_notebook(d / "04_fourth.ipynb", "print('reads only')")
    art = tmp_path / "artifacts"
    ctx = nb.Context(data_dir=str(tiny_data), artifacts_dir=str(art), name="04_fourth", as_of="2025-06-30")
    return d, art, ctx


def test_the_notebooks_that_write_a_missing_artifact_are_found_from_their_code(chain):
    d, art, ctx = chain
    names = lambda ps: [p.stem for p in ps]
    assert names(ctx.upstream_notebooks("a.csv", notebooks_dir=d)) == ["01_first"]
    assert names(ctx.upstream_notebooks("client_profile.parquet", notebooks_dir=d)) == ["02_second"]
    # b.csv is written by 03, which reads 01's a.csv: everything from the first writer to the last runs
    assert names(ctx.upstream_notebooks("b.csv", notebooks_dir=d)) == ["01_first", "02_second", "03_third"]
    assert ctx.upstream_notebooks("nobody_writes.csv", notebooks_dir=d) == []
    art.joinpath("a.csv").write_text("x\n1\n")
    assert ctx.upstream_notebooks("a.csv", notebooks_dir=d) == []  # present: nothing to run
    assert names(ctx.upstream_notebooks("b.csv", notebooks_dir=d)) == ["03_third"]  # what 03 reads is there
    early = nb.Context(data_dir=ctx.data_dir, artifacts_dir=str(art), name="02_second", as_of="2025-06-30")
    assert names(early.upstream_notebooks("b.csv", notebooks_dir=d)) == []  # only earlier notebooks, never itself


@pytest.mark.slow
def test_missing_artifacts_are_computed_by_the_earlier_notebooks_and_said(chain, capsys, monkeypatch):
    d, art, ctx = chain
    said = []
    monkeypatch.setattr(nb, "_display_markdown", said.append)
    ran = ctx.ensure_upstream("b.csv", notebooks_dir=d)
    assert ran == ["01_first", "02_second", "03_third"]
    assert pd.read_csv(art / "b.csv")["y"].tolist() == [10, 20]  # 03 ran after 01, with the same folder
    assert "03 Third" in capsys.readouterr().out
    assert len(said) == 1 and "b.csv was not in the artifacts folder" in said[0] and "30 June 2025" in said[0]
    assert ctx.ensure_upstream("b.csv", notebooks_dir=d) == [] and len(said) == 1  # present now: silent


@pytest.mark.slow
def test_a_failing_earlier_notebook_is_named(tmp_path, tiny_data):
    d = tmp_path / "nbs"
    write_notebook(d / "01_broken.ipynb", '# ctx.write_artifact("z.csv", ...) once it works',
                   'raise ValueError("revenue: column amount is missing")')
    ctx = nb.Context(data_dir=str(tiny_data), artifacts_dir=str(tmp_path / "a"), name="02_x", as_of="2025-06-30")
    with pytest.raises(runner.RunError, match=r"01_broken.ipynb failed: cell .* raised ValueError: revenue: column amount"):
        ctx.ensure_upstream("z.csv", notebooks_dir=d)


def _errors(path) -> list:
    book = nbformat.read(str(path), as_version=4)
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in book.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_alone_on_an_empty_artifacts_folder(path, small_sample, tmp_path):
    art, out = tmp_path / "artifacts", tmp_path / f"{path.stem}.ipynb"
    papermill.execute_notebook(str(path), str(out), progress_bar=False, cwd=str(tmp_path),
                               parameters={k: v for k, v in {"data_dir": str(small_sample), "artifacts_dir": str(art),
                                           "history_dir": str(tmp_path / "history")}.items()
                                           if k in runner.declared_parameters(path)})
    assert _errors(out) == []
    book = nbformat.read(str(out), as_version=4)
    text = json.dumps([c.get("outputs", []) for c in book.cells]) + json.dumps(book.metadata)  # + widget state
    assert "needs the client profile" not in text
    if path.stem.startswith("09"):  # the explorers had nothing: the earlier notebooks ran first, and it says so
        assert "were not in the artifacts folder" in text and "07 Execution" in text
        assert (art / "client_profile.parquet").exists() and (art / "next_best_actions.csv").exists()
        assert "Chance still active" in text  # the explorers showed the portfolio
