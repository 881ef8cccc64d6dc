"""The runner's promises: validate first, all or nothing, clear failures, a lock, safe parameters."""
from __future__ import annotations

import json
import multiprocessing as mp  # "spawn": forking a process that holds DuckDB and Arrow threads is unsafe
import time

import pandas as pd
import pytest

from clientstrategy import cli, runner, validate
from conftest import OK_CELL, write_notebook


def _cfg(nbdir, data, out, **kw):
    return runner.RunConfig(data=str(data), out=out, notebooks_dir=nbdir, progress=False, **kw)


def test_good_run_publishes_everything(tmp_path, tiny_data):
    nbdir = tmp_path / "nbs"
    write_notebook(nbdir / "00_ok.ipynb", OK_CELL)
    published = runner.run(_cfg(nbdir, tiny_data, tmp_path / "out", as_of="2025-06-30"))
    assert published == (tmp_path / "out" / "2025Q2").resolve()
    for rel in ("index.html", "leadership/00_ok.html", "notebooks/00_ok.ipynb", "artifacts/ok.csv",
                "artifacts/metrics.json"):
        assert (published / rel).exists(), rel
    m = json.loads((published / "artifacts" / "metrics.json").read_text())
    assert m["fixture"] == {"as_of": "2025-06-30"}
    assert m["run"]["quarter"] == "2025Q2" and len(m["run"]["data_fingerprint"]) == 64
    assert "00_ok" in m["timings"]["seconds"] and m["versions"]["pandas"] == pd.__version__
    html = (published / "leadership" / "00_ok.html").read_text()
    assert "artifacts_dir" not in html and "import json" not in html  # no code for leadership
    assert not list((tmp_path / "out").glob(".staging-*"))


def _publish_good(tmp_path, tiny_data):
    nbdir = tmp_path / "good"
    write_notebook(nbdir / "00_ok.ipynb", OK_CELL)
    runner.run(_cfg(nbdir, tiny_data, tmp_path / "out", as_of="2025-06-30"))
    return {p.relative_to(tmp_path / "out"): p.read_bytes() for p in (tmp_path / "out" / "2025Q2").rglob("*") if p.is_file()}


def _unchanged(tmp_path, before):
    after = {p.relative_to(tmp_path / "out"): p.read_bytes() for p in (tmp_path / "out" / "2025Q2").rglob("*") if p.is_file()}
    assert after == before
    assert not list((tmp_path / "out").glob(".staging-*"))


def test_failing_cell_names_notebook_cell_and_error_and_keeps_last_good_run(tmp_path, tiny_data):
    before = _publish_good(tmp_path, tiny_data)
    nbdir = tmp_path / "bad"
    write_notebook(nbdir / "00_ok.ipynb", OK_CELL)
    write_notebook(nbdir / "01_fails.ipynb", "x = 1", "raise ValueError('planted failure in column amount')")
    with pytest.raises(runner.RunError) as e:
        runner.run(_cfg(nbdir, tiny_data, tmp_path / "out", as_of="2025-06-30"))
    msg = str(e.value)
    assert "01_fails.ipynb" in msg and "cell" in msg and "planted failure" in msg and "ValueError" in msg
    assert "raise ValueError('planted failure" in msg  # the cell's first line
    _kept_failed(tmp_path, "01_fails", "planted failure in column amount")
    _unchanged(tmp_path, before)


def _kept_failed(tmp_path, stem, line):
    """The partial executed notebook is in OUT/failed/<quarter>/, with the cell that was running."""
    import nbformat

    kept = tmp_path / "out" / "failed" / "2025Q2"
    nb = nbformat.read(str(kept / f"{stem}.ipynb"), as_version=4)
    assert any(line in c.source for c in nb.cells), f"{line!r} not in the kept notebook"
    assert (kept / "error.txt").read_text().startswith(f"{stem}.ipynb: ")


def _quiet(capfd):
    """Nothing but the runner's own message reaches the terminal: no kernel or ZMQ traceback."""
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "ZMQError" not in out + err and "IPKernelApp" not in out + err, err


def test_hung_cell_times_out(tmp_path, tiny_data, capfd):
    before = _publish_good(tmp_path, tiny_data)
    nbdir = tmp_path / "hang"
    write_notebook(nbdir / "00_sleeps.ipynb", "import time", "time.sleep(60)  # planted hang\nx = 1")
    capfd.readouterr()
    t0 = time.time()
    with pytest.raises(runner.RunError) as e:
        runner.run(_cfg(nbdir, tiny_data, tmp_path / "out", as_of="2025-06-30", cell_timeout=3))
    assert time.time() - t0 < 45
    msg = str(e.value)
    assert "timeout" in msg.lower() and "00_sleeps" in msg
    # markdown 0, parameters 1, injected parameters 2, import 3, the hung cell 4
    assert "cell 4" in msg and "time.sleep(60)  # planted hang" in msg and "unknown" not in msg, msg
    _quiet(capfd)
    _kept_failed(tmp_path, "00_sleeps", "planted hang")
    _unchanged(tmp_path, before)


def test_killed_kernel_is_reported(tmp_path, tiny_data, capfd):
    # What the out-of-memory killer does to a kernel: SIGKILL.
    before = _publish_good(tmp_path, tiny_data)
    nbdir = tmp_path / "die"
    write_notebook(nbdir / "00_dies.ipynb", "import os, signal", "os.kill(os.getpid(), signal.SIGKILL)  # planted kill")
    capfd.readouterr()
    with pytest.raises(runner.RunError) as e:
        runner.run(_cfg(nbdir, tiny_data, tmp_path / "out", as_of="2025-06-30"))
    msg = str(e.value)
    assert "kernel died" in msg and "00_dies" in msg
    assert "cell 4" in msg and "os.kill(os.getpid(), signal.SIGKILL)  # planted kill" in msg and "unknown" not in msg, msg
    _quiet(capfd)
    _kept_failed(tmp_path, "00_dies", "planted kill")
    _unchanged(tmp_path, before)


def test_memory_exhaustion_is_reported(tmp_path, tiny_data):
    before = _publish_good(tmp_path, tiny_data)
    nbdir = tmp_path / "oom"
    write_notebook(nbdir / "00_oom.ipynb",
                   "import resource\nresource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))",
                   "blocks = [bytearray(256 * 1024**2) for _ in range(64)]  # planted oom")
    with pytest.raises(runner.RunError) as e:
        runner.run(_cfg(nbdir, tiny_data, tmp_path / "out", as_of="2025-06-30"))
    msg = str(e.value)
    assert "00_oom" in msg and ("MemoryError" in msg or "kernel died" in msg)
    assert "cell 4" in msg and "# planted oom" in msg, msg
    _kept_failed(tmp_path, "00_oom", "planted oom")
    _unchanged(tmp_path, before)


def test_bad_input_writes_nothing_and_names_the_problem(tmp_path, tiny_data):
    before = _publish_good(tmp_path, tiny_data)
    bad = tmp_path / "bad-input"
    bad.mkdir()
    pd.DataFrame({"date": ["2025-01-15", "not a date"], "client_id": ["A", "Z"], "amount": [1.0, 2.0]}).to_csv(
        bad / "revenue.csv", index=False)
    pd.DataFrame({"client_id": ["A"]}).to_csv(bad / "clients.csv", index=False)
    nbdir = tmp_path / "good"
    with pytest.raises(validate.DataValidationError) as e:
        runner.run(_cfg(nbdir, bad, tmp_path / "out", as_of="2025-06-30"))
    msg = str(e.value)
    assert "revenue" in msg and "date" in msg and "not a date" in msg  # unparseable date, named
    assert "client_id" in msg and "Z" in msg  # a revenue client that references nothing, in the same report
    _unchanged(tmp_path, before)


def test_unknown_and_crafted_parameters_are_refused(tmp_path, tiny_data):
    nbdir = tmp_path / "nbs"
    write_notebook(nbdir / "00_ok.ipynb", OK_CELL, params='data_dir = ""\nas_of = ""\nartifacts_dir = ""\nlevel = 0.8')
    out = tmp_path / "out"
    for params, words in [({"nonsense": 1}, "unknown parameter"),
                          ({"level = 1\nimport os; os.system('touch /tmp/pwned')\nx": 1}, "not a plain identifier"),
                          ({"level": {"__class__": object()}}, "not plain JSON"),
                          ({"data_dir": "/etc"}, "set by the runner")]:
        with pytest.raises(runner.RunError) as e:
            runner.run(_cfg(nbdir, tiny_data, out, as_of="2025-06-30", params=params))
        assert words in str(e.value)
    assert not out.exists() or not (out / "2025Q2").exists()
    assert cli.parse_param("level=0.9") == ("level", 0.9)
    with pytest.raises(ValueError):
        cli.parse_param("level=1; import os")


def _hold_run(nbdir, data, out, q):
    try:
        runner.run(_cfg(nbdir, data, out, as_of="2025-06-30"))
        q.put("ok")
    except Exception as exc:  # noqa: BLE001 (reported to the parent)
        q.put(f"{type(exc).__name__}: {exc}")


def test_two_runs_for_one_quarter_cannot_interleave(tmp_path, tiny_data):
    nbdir = tmp_path / "slow"
    write_notebook(nbdir / "00_slow.ipynb", "import time\ntime.sleep(8)", OK_CELL.replace("00_ok", "00_slow"))
    out = tmp_path / "out"
    q = mp.get_context("spawn").Queue()
    first = mp.get_context("spawn").Process(target=_hold_run, args=(nbdir, tiny_data, out, q))
    first.start()
    deadline = time.time() + 30
    while not list(out.glob(".staging-*")) and time.time() < deadline:
        time.sleep(0.2)
    with pytest.raises(runner.RunError) as e:
        runner.run(_cfg(nbdir, tiny_data, out, as_of="2025-06-30"))
    assert "in progress" in str(e.value) and e.value.exit_code == 3
    first.join(60)
    assert q.get(timeout=5) == "ok"
    assert (out / "2025Q2" / "index.html").exists()


def _logged_run(nbdir, data, out, log, q):
    try:
        runner.run(_cfg(nbdir, data, out, as_of="2025-06-30"))
        q.put("ok")
    except Exception as exc:  # noqa: BLE001 (reported to the parent)
        q.put(f"{type(exc).__name__}: {exc}")


def test_a_waiting_run_starts_after_the_first_and_succeeds(tmp_path, tiny_data, capsys):
    log = tmp_path / "order.log"
    nbdir = tmp_path / "slow"
    write_notebook(nbdir / "00_slow.ipynb", f"open({str(log)!r}, 'a').write('start\\n')",
                   "import time\ntime.sleep(5)", f"open({str(log)!r}, 'a').write('end\\n')",
                   OK_CELL.replace("00_ok", "00_slow"))
    out = tmp_path / "out"
    q = mp.get_context("spawn").Queue()
    first = mp.get_context("spawn").Process(target=_logged_run, args=(nbdir, tiny_data, out, log, q))
    first.start()
    deadline = time.time() + 30
    while not list(out.glob(".staging-*")) and time.time() < deadline:
        time.sleep(0.2)
    assert list(out.glob(".staging-*")), "the first run did not start"
    published = runner.run(_cfg(nbdir, tiny_data, out, as_of="2025-06-30", lock_wait=True))
    first.join(60)
    assert q.get(timeout=5) == "ok"
    assert log.read_text().split() == ["start", "end", "start", "end"]  # one after the other, not interleaved
    assert (published / "index.html").exists() and (published / "artifacts" / "metrics.json").exists()
    assert "waiting" in capsys.readouterr().err
    assert not list(out.glob(".staging-*"))


def test_metrics_record_the_parameters_used_and_the_render_time(tmp_path, tiny_data):
    nbdir = tmp_path / "nbs"
    base = 'data_dir = ""\nas_of = ""\nartifacts_dir = ""\n'
    write_notebook(nbdir / "00_ok.ipynb", OK_CELL,
                   params=base + 'level = 0.8\nlabel = "quarterly"  # a comment\ntop_n = 10\nweights = {"a": 1}')
    write_notebook(nbdir / "01_other.ipynb", "x = 1", params=base + "top_n = 20\nlevel = 0.8\nholdout_weeks = 26")
    published = runner.run(_cfg(nbdir, tiny_data, tmp_path / "out", as_of="2025-06-30", params={"level": 0.9},
                                holdout_weeks=13))
    m = json.loads((published / "artifacts" / "metrics.json").read_text())
    assert m["run"]["parameters"] == {"level": 0.9, "holdout_weeks": 13}  # what was passed, as before
    # run-wide: defaults overridden by the run's values; a name whose value differs by notebook is per notebook only
    assert m["parameters"] == {"as_of": "2025-06-30", "holdout_weeks": 13, "label": "quarterly", "level": 0.9,
                               "weights": {"a": 1}}
    assert m["notebook_parameters"] == {
        "00_ok": {"as_of": "2025-06-30", "level": 0.9, "label": "quarterly", "top_n": 10, "weights": {"a": 1}},
        "01_other": {"as_of": "2025-06-30", "top_n": 20, "level": 0.9, "holdout_weeks": 13}}
    t = m["timings"]
    assert isinstance(t["render"], float) and t["render"] >= 0 and "render" not in t["seconds"]
    assert t["total"] == pytest.approx(sum(t["seconds"].values()) + t["render"], abs=0.02)


def test_cli_exit_codes(tmp_path, tiny_data, capsys):
    bad = tmp_path / "empty"
    bad.mkdir()
    (bad / "clients.csv").write_text("client_id\nA\n")
    code = cli.main(["run", "--data", str(bad), "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "revenue" in err and "nothing was written" in err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def _write(d, name, text, mode="w"):
    p = d / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)


BAD_INPUTS = {
    # kind: (files to write, words the message must hold)
    "missing required table": ({"clients.csv": "client_id\nA\n"}, ["revenue", "missing"]),
    "missing required column": ({"revenue.csv": "date,client_id\n2025-01-01,A\n"}, ["revenue", "amount"]),
    "unparseable date": ({"revenue.csv": "date,client_id,amount\n2025-01-01,A,1\n31/31/2025,A,2\n"},
                         ["revenue", "date", "31/31/2025"]),
    "unparseable number": ({"revenue.csv": "date,client_id,amount\n2025-01-01,A,1\n2025-01-02,A,ten\n"},
                           ["revenue", "amount", "ten"]),
    "duplicate ids": ({"revenue.csv": "date,client_id,amount\n2025-01-01,A,1\n",
                       "clients.csv": "client_id\nA\nA\n"}, ["clients", "client_id", "A"]),
    "id that references nothing": ({"revenue.csv": "date,client_id,amount\n2025-01-01,A,1\n2025-01-02,GHOST,1\n",
                                    "clients.csv": "client_id\nA\n"}, ["revenue", "client_id", "GHOST"]),
    "empty table": ({"revenue.csv": "date,client_id,amount\n"}, ["revenue", "empty"]),
    "undecodable file": ({"revenue.csv": b"date,client_id,amount\n2025-01-01,A,1\n" + b"2025-01-02,\xff\xfeA,1\n"},
                         ["revenue"]),
    "NPS outside 0..10": ({"revenue.csv": "date,client_id,amount\n2025-01-01,A,1\n",
                           "surveys.csv": "date,client_id,nps\n2025-01-01,A,11\n"}, ["surveys", "nps", "11"]),
}


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_each_kind_of_bad_input_is_named_and_leaves_the_last_run(kind, tmp_path, tiny_data):
    before = _publish_good(tmp_path, tiny_data)
    files, words = BAD_INPUTS[kind]
    bad = tmp_path / "bad"
    bad.mkdir()
    for name, text in files.items():
        _write(bad, name, text)
    with pytest.raises(validate.DataValidationError) as e:
        runner.run(_cfg(tmp_path / "good", bad, tmp_path / "out", as_of="2025-06-30"))
    msg = str(e.value).lower()
    for w in words:
        assert w.lower() in msg, f"{kind}: {w!r} not in {msg[:300]}"
    assert any(ch.isdigit() for ch in msg)  # a count is given
    _unchanged(tmp_path, before)


def test_ctrl_c_stops_the_run_and_publishes_nothing(tmp_path, tiny_data):
    import signal
    import subprocess
    import sys

    before = _publish_good(tmp_path, tiny_data)
    nbdir = tmp_path / "slow"
    write_notebook(nbdir / "00_slow.ipynb", "import time", "time.sleep(60)  # planted slow cell")
    code = ("import sys; from pathlib import Path; from clientstrategy import runner\n"
            f"cfg = runner.RunConfig(data={str(tiny_data)!r}, out=Path({str(tmp_path / 'out')!r}), "
            f"notebooks_dir=Path({str(nbdir)!r}), as_of='2025-06-30', progress=False)\n"
            "try:\n    runner.run(cfg)\nexcept runner.RunError as e:\n    print(e, file=sys.stderr); sys.exit(e.exit_code)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not list((tmp_path / "out").glob(".staging-*/2025Q2/notebooks")) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(4)  # the kernel is inside the sleeping cell
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "00_slow" in err
    assert "cell 4" in err and "time.sleep(60)  # planted slow cell" in err, err
    assert "Traceback" not in err and "ZMQError" not in err, err
    _kept_failed(tmp_path, "00_slow", "planted slow cell")
    _unchanged(tmp_path, before)
