"""A throwaway PostgreSQL cluster for the test session, and raw access to a store on either backend.

The cluster runs from the Debian packages' binaries on a Unix socket in a scratch folder, with no TCP
listener; as root (CI) the server runs as the ``postgres`` user, since it refuses to run as root. Each
test gets a fresh database. Without PostgreSQL installed the tests that need it skip on a developer
machine and fail under CI=true (.ci/run installs it).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

SUPERUSER = "triage"  # the cluster's bootstrap superuser: owns the test databases (the "owner role")


def _binaries() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(candidate, "initdb"), os.X_OK) and os.access(os.path.join(candidate, "pg_ctl"), os.X_OK):
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def missing(reason: str):
    """Skip on a developer machine; fail under CI, where .ci/run installs PostgreSQL."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is needed under CI: {reason}")
    pytest.skip(f"PostgreSQL is not available: {reason}")


class Cluster:
    def __init__(self, folder: Path, binaries: Path):
        self.folder = folder
        self.binaries = binaries
        self.as_root = os.geteuid() == 0
        self._numbers = itertools.count(1)

    def _run(self, *command: str) -> None:
        if self.as_root:
            line = " ".join(_quote(part) for part in command)
            argv = ["su", "postgres", "-s", "/bin/sh", "-c", line]
        else:
            argv = list(command)
        done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> None:
        data = self.folder / "data"
        self._run(str(self.binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", SUPERUSER, "--no-sync",
                  "-E", "UTF8", "--locale=C")
        self.start_server()

    def stop(self) -> None:
        try:
            self._run(str(self.binaries / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def stop_server(self) -> None:
        """The server down (fast: sessions are ended, as a restart or failover ends them), the data kept."""
        self._run(str(self.binaries / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")

    def start_server(self) -> None:
        # A scratch cluster: no TCP, the socket in our folder; fsync off because nothing in it
        # outlives the session (durability is PostgreSQL's own, not what these tests check).
        options = f"-k {self.folder} -c listen_addresses= -c fsync=off -c full_page_writes=off -c max_connections=60"
        self._run(str(self.binaries / "pg_ctl"), "-D", str(self.folder / "data"), "-o", options, "-l",
                  str(self.folder / "log"), "-w", "-t", "60", "start")

    def url(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        return f"postgresql://{user}@/{database}?host={self.folder}"

    def admin(self, statement: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as connection:
            connection.execute(statement)

    def new_database(self) -> str:
        """A fresh, empty database (the store's schema is created when it is first opened)."""
        name = f"store_{os.getpid()}_{next(self._numbers)}"
        self.admin(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')  # small: faster than WAL_LOG
        return self.url(name)

    def copy_database(self, url: str) -> str:
        """A new database with the same contents (PostgreSQL copies a template database's files)."""
        name = f"store_{os.getpid()}_{next(self._numbers)}"
        self.admin(f'CREATE DATABASE "{name}" TEMPLATE "{_name(url)}" STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{_name(url)}" WITH (FORCE)')


def _name(url: str) -> str:
    return url.split("/")[3].split("?")[0]


def _quote(part: str) -> str:
    import shlex

    return shlex.quote(part)


def start_cluster() -> Cluster:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing("psycopg is not installed (pip install -e '.[test]')")
    binaries = _binaries()
    if binaries is None:
        missing("no initdb/pg_ctl (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="triage-pg-", dir="/tmp"))
    cluster = Cluster(folder, binaries)
    if cluster.as_root:
        shutil.chown(folder, "postgres", "postgres")
    try:
        cluster.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        shutil.rmtree(folder, ignore_errors=True)
        missing(f"the test cluster did not start ({error})")
    return cluster


# -- raw access to a store, as someone with the database's own tools would have -------------------

class Raw:
    """A connection outside the store (sqlite3, or psycopg as the owner), with ``?`` placeholders on
    both, autocommitting each statement."""

    def __init__(self, location):
        self.location = location
        self.postgresql = isinstance(location, str) and location.startswith("postgresql://")
        if self.postgresql:
            import psycopg

            self.connection = psycopg.connect(location, autocommit=True)
        else:
            import sqlite3

            self.connection = sqlite3.connect(location, isolation_level=None)

    def execute(self, statement: str, params: tuple | list = ()):
        if not self.postgresql:
            return self.connection.execute(statement, params)
        cursor = self.connection.cursor()
        if params:
            cursor.execute(statement.replace("%", "%%").replace("?", "%s"), tuple(params))
        else:
            cursor.execute(statement)
        return cursor

    def undo_scale_schema(self) -> None:
        """What schema 14 (scale: counts kept with the worklist, backlog alerts, the access log) added:
        for a test that fakes an older store (its migrations must be able to run again)."""
        for statement in ("DROP TABLE worklist_counts", "DROP TABLE access_log", "DROP TABLE access_head",
                          "DROP INDEX alerts_open_page", "DROP INDEX alerts_latest",
                          "ALTER TABLE alerts DROP COLUMN backlog", "ALTER TABLE worklist DROP COLUMN alert_backlog"):
            self.execute(statement)

    def drop_guards(self) -> None:
        """What an administrator could do: remove the append-only triggers, then edit."""
        if self.postgresql:
            for table in ("versions", "audit", "access_log"):
                if self.execute("SELECT to_regclass(?)", (table,)).fetchone()[0] is not None:
                    self.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        else:
            for (trigger,) in self.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
                self.execute(f"DROP TRIGGER {trigger}")

    def tables(self) -> list[str]:
        if self.postgresql:
            statement = ("SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"
                         " AND tablename <> 'triage_store' ORDER BY tablename")
        else:
            statement = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        return [row[0] for row in self.execute(statement).fetchall()]

    def columns(self, table: str) -> list[str]:
        if self.postgresql:
            return [row[0] for row in self.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
                " AND table_name = ? ORDER BY ordinal_position", (table,)).fetchall()]
        return [row[1] for row in self.execute(f"PRAGMA table_info({table})").fetchall()]

    def row_keys(self, table: str) -> list[str]:
        """Each row's physical address (SQLite's rowid, PostgreSQL's ctid), valid in a copy."""
        key = "ctid" if self.postgresql else "rowid"
        return [str(row[0]) for row in self.execute(f"SELECT {key} FROM {table} ORDER BY {key}").fetchall()]

    def where_key(self) -> str:
        return "ctid = ?::tid" if self.postgresql else "rowid = ?"

    @property
    def integrity_error(self) -> tuple[type[Exception], ...]:
        """What a constraint or a column's type raises when it refuses a change."""
        if self.postgresql:
            import psycopg

            # DatatypeMismatch: a number where the column holds bytes (bytea) is refused before it is stored.
            return (psycopg.IntegrityError, psycopg.DataError, psycopg.errors.DatatypeMismatch)
        import sqlite3

        return (sqlite3.IntegrityError,)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> "Raw":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
