"""Opening a store: picks the backend from the location (a file: triage/records/store/sqlite.py; a
``postgresql://`` URL: triage/records/store/postgresql.py, imported only then, so psycopg stays optional)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from triage.core.errors import StoreError
from triage.records.store.audit import _MIGRATION_KEYS, AuditKeys, audit_keys_from_environment
from triage.records.store.core import Store
from triage.records.store.model import default_path, utc_now
from triage.records.store.sqlite import open_sqlite_store


def is_postgresql_url(location: Path | str | None) -> bool:
    """A store given as ``postgresql://...`` (or ``postgres://...``) lives on a PostgreSQL server."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def open_store(path: Path | str | None = None, *, clock: Callable[[], str] = utc_now,
               for_reading: bool = False, audit_keys: AuditKeys | None = None, pooled: bool = False) -> Store:
    """Open the store at ``path`` (default: the per-user store), creating it on first use with a
    0700 folder and a 0600 file. Refuses a file that is not a triage store, is damaged, or was
    written by a newer schema.

    ``for_reading`` (list, show, export, audit verify): a store that exists but cannot be written
    (a read-only file system, a read-only copy) is opened read-only instead of refused; its
    ``read_only`` is then true and access is not recorded in its audit log.

    ``audit_keys``: the key file that keys the audit chain (default: TRIAGE_AUDIT_KEY_FILE, if set).

    ``pooled`` (a long-running process: the web server): on PostgreSQL the connection is borrowed from
    this process's pool (checked before it is handed out) and ``close()`` gives it back; the server
    not reachable within seconds is StoreUnavailable. On SQLite it changes nothing."""
    if audit_keys is None:
        audit_keys = audit_keys_from_environment()
    if pooled and is_postgresql_url(path):
        from triage.records.store.postgresql import open_pooled_store

        store = open_pooled_store(str(path), clock=clock)
        store.audit_keys = audit_keys
        return store
    token = _MIGRATION_KEYS.set(audit_keys)  # a migration's audit rows are keyed like any other
    try:
        store = _open_store(path, clock=clock, for_reading=for_reading)
    finally:
        _MIGRATION_KEYS.reset(token)
    store.audit_keys = audit_keys
    return store


def _open_store(path: Path | str | None, *, clock: Callable[[], str], for_reading: bool) -> Store:
    if is_postgresql_url(path):
        try:
            from triage.records.store.postgresql import open_postgresql_store
        except ImportError:
            raise StoreError("a PostgreSQL store needs the psycopg driver: pip install 'fbss-triage[postgresql]'"
                             ) from None
        return open_postgresql_store(str(path), clock=clock)
    return open_sqlite_store(Path(path) if path else default_path(), clock=clock, for_reading=for_reading)
