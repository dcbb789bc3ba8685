"""The embedded SQLite store: ``SQLiteBackend`` (one file, WAL, ``BEGIN IMMEDIATE``), and opening a
file: created private (0700 folder, 0600 file), identified, migrated, or read-only (a read-only
file system, a backup copy)."""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

from triage.core.errors import StoreError
from triage.records.store.core import Store
from triage.records.store.migrations import (_fill_worklist, _raise_stored_red_flags, _recount, _seal_accounts_and_invites,
                                     _seal_drafts)
from triage.records.store.model import DB_NAME, utc_now
from triage.records.store.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, _statements


BUSY_TIMEOUT_SECONDS = 10.0


# -- backends ----------------------------------------------------------------------------------
# One Store, two backends: the store's SQL is written once (``?`` placeholders, portable upserts and
# subqueries) and a backend supplies what differs: how a write transaction serialises writers, how a
# consistent snapshot is read, how a new row's id comes back, a JSON field, the engine's own
# integrity check, and its errors as StoreError (the interface: triage/records/store/backend.py). SQLite
# (here) is the embedded default; PostgreSQL (triage/records/store/postgresql.py, psycopg imported only for a
# postgresql:// store) serves a network of clinics.

class SQLiteBackend:
    """The embedded store: one file, WAL, ``BEGIN IMMEDIATE`` so writers queue on the file's lock."""

    name = "sqlite"

    def __init__(self, connection: sqlite3.Connection, location: Path):
        self.db = connection
        self.location = location

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Every SQLite failure becomes one StoreError naming the file (SQLite's messages name
        tables and columns, never bound values, so no answer can leak through them)."""
        try:
            yield
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "busy" in str(error):
                raise StoreError(f"{self.location}: the store is busy (another triage is writing); "
                                 "try again") from None
            raise StoreError(f"{self.location}: {error}") from None
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.location}: the store is damaged or not a triage store ({error})") from None

    @contextmanager
    def write(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction. BEGIN IMMEDIATE takes the write lock up front, so two writers
        queue (busy timeout) instead of failing half-way with a stale read. ``durable=False``: this
        one commit with ``synchronous=NORMAL`` (WAL: atomic, survives the process; not yet flushed
        to disk), the connection FULL again right after, whatever happens."""
        with self.errors():
            if not durable:
                self.db.execute("PRAGMA synchronous = NORMAL")  # outside any transaction, as it must be
            try:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    yield self.db
                except BaseException:
                    try:
                        self.db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                    raise
                self.db.execute("COMMIT")
            finally:
                if not durable:
                    self.db.execute("PRAGMA synchronous = FULL")

    @contextmanager
    def write_access(self) -> Iterator[sqlite3.Connection]:
        """A write of the access log (one file: writers queue on its lock as for any write)."""
        with self.write() as db:
            yield db

    @contextmanager
    def write_unchained(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """A write that adds no audit row (web sessions, token uses); by default not waiting for
        the disk (a session's last activity may be lost in a power cut, never a record)."""
        with self.write(durable=durable) as db:
            yield db

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the same store (WAL: writers go on)."""
        with self.errors():
            self.db.execute("BEGIN")
            try:
                yield self.db
            finally:
                self.db.execute("ROLLBACK")

    def stream(self, sql: str, params: tuple | list = ()) -> Iterator[tuple]:
        """Rows one at a time (SQLite's cursor steps through the result)."""
        return self.db.execute(sql, params)

    @staticmethod
    def insert_id(db, sql: str, params: tuple | list) -> int | None:
        """Run an INSERT into a table with an ``id`` key; the new id, or None if nothing was inserted
        (``ON CONFLICT DO NOTHING``)."""
        cursor = db.execute(sql, params)
        return cursor.lastrowid if cursor.rowcount == 1 else None

    @staticmethod
    def json_text(column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"

    @staticmethod
    def replace_password(db, name: str, password_hash: str, now: str) -> None:
        db.execute("UPDATE users SET password_hash = ?, changed_at = ? WHERE name = ?", (password_hash, now, name))

    @staticmethod
    def raise_session_generation(db, name: str) -> None:
        db.execute("UPDATE users SET session_generation = session_generation + 1 WHERE name = ?", (name,))

    @staticmethod
    def set_second_factor(db, name: str, secret: str, step: int, now: str) -> bool:
        return db.execute("UPDATE users SET totp_secret = ?, totp_last_step = ?, changed_at = ? WHERE name = ?"
                          " AND totp_secret IS NULL", (secret, step, now, name)).rowcount == 1

    def integrity_problems(self, db) -> list[str]:
        integrity = [row[0] for row in db.execute("PRAGMA integrity_check").fetchall()]
        return [] if integrity == ["ok"] else [f"database integrity check failed: {integrity[0]}"]


def open_sqlite_store(path: Path, *, clock: Callable[[], str], for_reading: bool) -> Store:
    """The store in this file (see ``open_store``)."""
    try:
        return _open_sqlite_store(path, clock=clock, for_reading=for_reading)
    except PermissionError:  # a folder on the way this account may not look into
        raise StoreError(f"{path}: this account may not open it (permission denied); run triage as the "
                         "account that owns the store") from None


def _open_sqlite_store(path: Path, *, clock: Callable[[], str], for_reading: bool) -> Store:
    _refuse_root_in_anothers_store(path)
    if path.is_file() and not _writable(path):
        if for_reading:
            return _open_read_only(path, clock)
        raise StoreError(f"{path}: cannot be written (a read-only file system, or no permission); "
                         "nothing was saved")
    _create_private(path)
    try:
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    except sqlite3.Error as error:
        raise StoreError(f"{path}: cannot open the store ({error})") from None
    store = Store(SQLiteBackend(db, path), path, clock)
    try:
        _prepare(db, path)
    except BaseException:
        db.close()
        raise
    _tighten(path)
    return store


def _refuse_root_in_anothers_store(path: Path) -> None:
    """root opening a service account's store would leave root's files beside it (the -wal and -shm
    side files even when only reading, or a whole new store) that the service can then no longer
    open: the administrator runs triage as the store's account instead."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    owned = path if path.exists() else path.parent if path.parent.exists() else None
    uid = owned.stat().st_uid if owned is not None else 0
    if uid == 0:
        return
    try:
        import pwd

        name = pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        name = str(uid)
    raise StoreError(f"{owned}: belongs to the account {name}, not root; run triage as that account "
                     f"(runuser -u {name} -- triage ...) so that the files it writes stay usable by it")


def _writable(path: Path) -> bool:
    """Can this process write the store and create its side files? (os.access reports a read-only
    file system even to root.)"""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _open_read_only(path: Path, clock: Callable[[], str]) -> Store:
    """SQLite's read-only mode; when even the shared-memory side file cannot be created (a read-only
    file system, where nobody can be writing), the file is read as immutable."""
    from urllib.parse import quote

    last_error = None
    for options in ("mode=ro", "mode=ro&immutable=1"):
        try:
            db = sqlite3.connect(f"file:{quote(str(path.resolve()))}?{options}", uri=True,
                                 timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as error:
            last_error = error
            continue
        try:
            _check_identity(db, path, read_only=True)
        except BaseException:
            db.close()
            raise
        store = Store(SQLiteBackend(db, path), path, clock)
        store.read_only = True
        return store
    raise StoreError(f"{path}: cannot open the read-only store ({last_error})")


def open_copy(path: Path, clock: Callable[[], str] = utc_now) -> Store:
    """Open a backup copy read-only, to check it without changing a byte of it."""
    if not path.is_file():
        raise StoreError(f"{path}: no such file")
    return _open_read_only(path, clock)


def _tighten(path: Path) -> None:
    """A store (only once it is known to be one) with wider permissions is made 0600: it holds
    health information. Someone else's file is left alone."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            info = file.stat()
            if info.st_mode & 0o077 and info.st_uid == os.getuid():
                os.chmod(file, 0o600)
        except OSError:
            pass  # a side file that is not there (yet) needs nothing


def _create_private(path: Path) -> None:
    """Create missing folders 0700 and the file 0600 before SQLite touches it. SQLite gives its
    -wal and -shm files the database file's permissions, so they are 0600 too."""
    try:
        missing = [parent for parent in reversed(path.parents) if not parent.exists()]
        for folder in missing:
            folder.mkdir(mode=0o700)
            os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask
        if path.is_dir():
            raise StoreError(f"{path}: is a folder; give the path of a store file (e.g. {path / DB_NAME})")
        if not path.exists():
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(descriptor)
    except FileExistsError:
        pass  # another process created it between our check and our open: fine
    except OSError as error:
        raise StoreError(f"{path}: cannot create the store ({(error.strerror or str(error)).lower()})") from None


def _check_identity(db: sqlite3.Connection, path: Path, *, read_only: bool = False) -> int:
    """Refuse a file that is not a triage store of a schema this version reads; return its schema."""
    def refuse(message: str) -> StoreError:
        return StoreError(f"{path}: {message}")

    try:
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        schema = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError:
        raise refuse("is not a triage store (not an SQLite database, or damaged)") from None
    if application_id != APPLICATION_ID and (application_id != 0 or tables):
        raise refuse("is an SQLite database of another program, not a triage store")
    if schema > SCHEMA_VERSION:
        raise refuse(f"was written by a newer version of triage (store schema {schema}; this version "
                     f"reads up to {SCHEMA_VERSION}); upgrade triage to use it")
    if read_only and schema < SCHEMA_VERSION:
        raise refuse(f"is read-only and was written by an older version of triage (store schema {schema}); "
                     "open it once where it can be written, so that it is upgraded")
    if read_only and application_id != APPLICATION_ID:
        raise refuse("is read-only and empty; there is nothing to read")
    return schema


def _prepare(db: sqlite3.Connection, path: Path) -> None:
    def refuse(message: str) -> StoreError:
        return StoreError(f"{path}: {message}")

    schema = _check_identity(db, path)
    try:
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        if db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
            raise refuse("cannot use write-ahead logging here (is the folder on a network drive?)")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
        if schema < SCHEMA_VERSION:
            _migrate(db)
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise refuse("the store is busy (another triage is writing); try again") from None
        raise refuse(f"cannot be opened ({error})") from None
    except sqlite3.DatabaseError as error:
        raise refuse(f"is damaged ({error})") from None


def _migrate(db: sqlite3.Connection) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        schema = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have done it
        for step in range(schema, SCHEMA_VERSION):
            for statement in _statements(MIGRATIONS[step]):
                db.execute(statement)
        # The Python steps after all the SQL: they run today's code, which writes today's tables.
        for step in range(schema + 1, SCHEMA_VERSION + 1):
            if step in _MIGRATION_STEPS:
                _MIGRATION_STEPS[step](db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


# Python steps that a migration needs besides its SQL, by the schema version they bring a store to.
_MIGRATION_STEPS: dict[int, Callable[[sqlite3.Connection], None]] = {
    2: _seal_drafts, 6: _fill_worklist, 11: _seal_accounts_and_invites,
    12: partial(_raise_stored_red_flags, insert_id=SQLiteBackend.insert_id), 17: _recount}
