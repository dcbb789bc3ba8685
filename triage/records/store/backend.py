"""What a backend supplies to the ``Store`` (triage/records/store/core.py): the few things that differ between
SQLite (triage/records/store/sqlite.py) and PostgreSQL (triage/records/store/postgresql.py). The store's SQL is written
once, with ``?`` placeholders, portable upserts and subqueries; a backend serialises writers, reads a
consistent snapshot, returns a new row's id, names a JSON field, runs the engine's own integrity
check, and turns its errors into one StoreError."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Iterator, Protocol


class Backend(Protocol):
    name: str  # "sqlite" or "postgresql"
    db: Any  # the connection the store's queries run on

    def close(self) -> None: ...

    def errors(self) -> AbstractContextManager[None]:
        """Every failure of the database inside becomes one StoreError naming the store."""

    def write(self, durable: bool = True) -> AbstractContextManager[Any]:
        """One write transaction that adds to the audit chain; writers are serialised."""

    def write_unchained(self, durable: bool = False) -> AbstractContextManager[Any]:
        """A write that adds no audit row (web sessions, token uses)."""

    def write_access(self) -> AbstractContextManager[Any]:
        """A write of the access log (triage/records/store/access_log.py): queues behind its writers only."""

    def snapshot(self) -> AbstractContextManager[Any]:
        """One read transaction: every query inside sees the same store."""

    def stream(self, sql: str, params: tuple | list = ()) -> Iterator[tuple]:
        """Rows one at a time (flat memory)."""

    def insert_id(self, db: Any, sql: str, params: tuple | list) -> int | None:
        """Run an INSERT into a table with an ``id`` key; the new id, or None if nothing was inserted."""

    def json_text(self, column: str, key: str) -> str:
        """SQL for the text of ``key`` in the JSON held by ``column``."""

    def replace_password(self, db: Any, name: str, password_hash: str, now: str) -> None: ...

    def raise_session_generation(self, db: Any, name: str) -> None:
        """End every session of the account signed in under its current generation."""

    def set_second_factor(self, db: Any, name: str, secret: str, step: int, now: str) -> bool:
        """Keep the account's TOTP secret, only while it has none; whether it was kept."""

    def integrity_problems(self, db: Any) -> list[str]: ...
