"""The workbook on a real PostgreSQL server: ``DATA=postgresql+psycopg://...`` gives the folder's results.

A private server (Debian's ``postgresql`` package) is started for this module in a temporary
folder and listens only on a Unix socket there, so it cannot collide with another server or test
run. The small sample is loaded into it with ``pandas.DataFrame.to_sql``; the workbook then runs
from the database URL and from the folder, and the two runs must agree. Without PostgreSQL or
psycopg these tests skip (``make test-system`` installs them); with
``CLIENTSTRATEGY_SYSTEM_TESTS=required`` (CI) they fail instead.
"""
from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from clientstrategy import cli, io, runner

INSTALL_HINT = ("install it with `make test-system`, or `apt-get install postgresql` (Debian) and "
                "`pip install -r requirements.txt`")
DATABASE = "clientstrategy"


@dataclass
class PostgresServer:
    """A running private server: its socket folder, port and superuser password."""

    socket_dir: Path
    port: int
    password: str
    user: str = "postgres"

    def url(self, database: str = DATABASE, password: str | None = None) -> str:
        """A SQLAlchemy URL (psycopg 3 driver) of ``database`` on this server."""
        pw = self.password if password is None else password
        return f"postgresql+psycopg://{self.user}:{pw}@/{database}?host={self.socket_dir}&port={self.port}"


def _postgres_bin() -> Path | None:
    """The ``bin`` folder of the newest PostgreSQL under /usr/lib/postgresql (Debian's layout)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


def _as_server_user(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run a server command; as root through ``runuser -u postgres`` (initdb refuses root)."""
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def postgres(system_requirement):
    """A private PostgreSQL server with an empty ``clientstrategy`` database; stopped at teardown."""
    try:
        import psycopg  # noqa: F401
        import sqlalchemy
    except ImportError as exc:
        system_requirement(f"the PostgreSQL tests need the psycopg driver ({exc}); {INSTALL_HINT}")
    bindir = _postgres_bin()
    if bindir is None:
        system_requirement(f"the PostgreSQL tests need a PostgreSQL server (no /usr/lib/postgresql/*/bin/pg_ctl); "
                           f"{INSTALL_HINT}")
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            system_requirement(f"running as root, the PostgreSQL tests need the `postgres` user; {INSTALL_HINT}")
        if shutil.which("runuser") is None:
            system_requirement("running as root, the PostgreSQL tests need `runuser` (util-linux)")
    # Not under pytest's tmp folder: that is private to root, and the server runs as `postgres`.
    # A short path, too: a Unix socket path must stay under 108 bytes.
    base = Path(tempfile.mkdtemp(prefix="cs-pg-"))
    if os.geteuid() == 0:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data, log, pwfile = base / "data", base / "server.log", base / "pwfile"
    server = PostgresServer(socket_dir=base, port=5432, password=secrets.token_hex(12))
    pwfile.write_text(server.password + "\n")
    if os.geteuid() == 0:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    started = False
    try:
        init = _as_server_user([str(bindir / "initdb"), "-D", str(data), "-U", server.user, "--auth=scram-sha-256",
                                f"--pwfile={pwfile}", "--encoding=UTF8", "--locale=C", "--no-sync"], base)
        assert init.returncode == 0, f"initdb failed:\n{init.stdout}\n{init.stderr}"
        pwfile.unlink()
        options = (f"-c listen_addresses='' -c unix_socket_directories='{base}' -p {server.port} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=20")
        start = _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                                 "-o", options, "start"], base)
        started = start.returncode == 0
        assert started, f"pg_ctl start failed:\n{start.stdout}\n{start.stderr}\n{_read(log)}"
        admin = sqlalchemy.create_engine(server.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as con:
            con.execute(sqlalchemy.text(f"CREATE DATABASE {DATABASE}"))
        admin.dispose()
        yield server
    finally:
        if started:
            stop = _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], base)
            assert stop.returncode == 0, f"pg_ctl stop failed:\n{stop.stderr}"
        shutil.rmtree(base, ignore_errors=True)


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture(scope="module")
def loaded_postgres(postgres, small_sample):
    """The small sample's tables written into the server with ``to_sql``; returns the server."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(postgres.url())
    try:
        for f in sorted(Path(small_sample).glob("*.parquet")):
            pd.read_parquet(f).to_sql(f.stem, engine, index=False, chunksize=20_000)
    finally:
        engine.dispose()
    return postgres


@pytest.fixture(scope="module")
def two_runs(loaded_postgres, small_sample, tmp_path_factory):
    """The workbook run once from the database URL and once from the sample folder."""
    from_db = runner.run(runner.RunConfig(data=loaded_postgres.url(), out=tmp_path_factory.mktemp("pg-run"),
                                          progress=False))
    from_folder = runner.run(runner.RunConfig(data=str(small_sample), out=tmp_path_factory.mktemp("folder-run"),
                                              progress=False))
    return from_db, from_folder


def test_postgres_holds_the_sample_tables(loaded_postgres, small_sample):
    located = io.list_tables(loaded_postgres.url())
    assert set(located) == {f.stem for f in Path(small_sample).glob("*.parquet")}
    assert all(loaded_postgres.password not in where for where in located.values())
    assert io.fingerprint(io.load_source(loaded_postgres.url())) == io.fingerprint(io.load_source(small_sample))


@pytest.mark.slow
def test_run_from_postgres_publishes(two_runs, loaded_postgres):
    from_db, _ = two_runs
    assert (from_db / "index.html").exists() and len(list((from_db / "leadership").glob("*.html"))) >= 10
    m = json.loads((from_db / "artifacts" / "metrics.json").read_text())
    assert m["run"]["data"].startswith("postgresql+psycopg://postgres:***@/clientstrategy")
    leaked = [str(p.relative_to(from_db)) for p in from_db.rglob("*") if p.is_file()
              and loaded_postgres.password.encode() in p.read_bytes()]
    assert leaked == [], "the database password reached the published run"


@pytest.mark.slow
def test_run_from_postgres_equals_run_from_folder(two_runs):
    from_db, from_folder = two_runs
    art_db, art_folder = from_db / "artifacts", from_folder / "artifacts"
    files = sorted(p.relative_to(art_folder) for p in art_folder.rglob("*") if p.is_file())
    assert sorted(p.relative_to(art_db) for p in art_db.rglob("*") if p.is_file()) == files
    pd.testing.assert_frame_equal(pd.read_parquet(art_db / "client_profile.parquet"),
                                  pd.read_parquet(art_folder / "client_profile.parquet"))
    m_db, m_folder = (json.loads((a / "metrics.json").read_text()) for a in (art_db, art_folder))
    assert m_db["run"].pop("data").startswith("postgresql") and m_folder["run"].pop("data") != ""
    for m in (m_db, m_folder):
        m.pop("timings")
    assert m_db == m_folder  # data fingerprint, purchase model, back-test, headlines...
    for rel in files:
        if rel.suffix in (".csv", ".json") and rel.name != "metrics.json":
            assert (art_db / rel).read_bytes() == (art_folder / rel).read_bytes(), str(rel)
        elif rel.suffix == ".parquet":
            pd.testing.assert_frame_equal(pd.read_parquet(art_db / rel), pd.read_parquet(art_folder / rel))


@pytest.mark.parametrize("case", ["wrong password", "missing database"])
def test_unreachable_database_is_a_clear_error(case, postgres, tmp_path, capsys):
    wrong = "not-" + postgres.password
    url = postgres.url(password=wrong) if case == "wrong password" else postgres.url(database="no_such_db")
    why = "password authentication failed" if case == "wrong password" else 'database "no_such_db" does not exist'
    with pytest.raises(ValueError, match="cannot read the database") as err:
        io.load_source(url)
    message = str(err.value)
    assert why in message and "postgresql+psycopg://postgres:***@/" in message  # names the source
    assert wrong not in message and postgres.password not in message
    out = tmp_path / "out"
    with pytest.raises(runner.RunError) as run_err:
        runner.run(runner.RunConfig(data=url, out=out, progress=False))
    assert run_err.value.exit_code == 2 and why in str(run_err.value)
    assert wrong not in str(run_err.value) and postgres.password not in str(run_err.value)
    assert not out.exists() or not any(out.iterdir()), "a refused run wrote into OUT"
    for command in (["run", "--data", url, "--out", str(out), "--quiet"], ["validate", "--data", url]):
        assert cli.main(command) == 2
        stderr = capsys.readouterr().err
        assert why in stderr and "***" in stderr and wrong not in stderr, stderr
