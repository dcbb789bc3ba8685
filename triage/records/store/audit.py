"""The audit chain: the hashes of what is recorded (versions, drafts, alerts, accounts, invitations),
each audit row's hash over the previous one, the keyed chain (``AuditKeys``), and appending a row.
Shared by both backends and by `audit verify` (triage/records/store/verify.py), so a row is hashed one way."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from triage.core.errors import AuditKeyMissing, StoreError


GENESIS = "0" * 64  # prev_hash of the first audit row


def canonical(value: Any) -> str:
    """The one serialisation that is hashed: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(intake_id: int, version: int, recorded_at: str, recorded_by: str, source: str,
                 answers: dict, result: dict, settings: dict, language: str | None = None) -> str:
    content = {
        "intake_id": intake_id, "version": version, "recorded_at": recorded_at,
        "recorded_by": recorded_by, "source": source, "answers": answers, "result": result,
        "settings": settings,
    }
    if language is not None:  # versions without a language keep the hash they were recorded with
        content["language"] = language
    return sha256(canonical(content))


def draft_hash(intake_id: int, answers: dict, revision: int, base_version: int, saved_at: str,
               saved_by: str) -> str:
    """A draft is saved in place, so its row cannot be append-only: the audit row that saved it
    carries this hash instead, and `audit verify` checks the row against the latest one."""
    return sha256(canonical({"intake_id": intake_id, "answers": answers, "revision": revision,
                             "base_version": base_version, "saved_at": saved_at, "saved_by": saved_by}))


def alert_hash(alert_id: int, intake_id: int, question: str, urgency: str, raised_at: str) -> str:
    """An alert row is updated in place when acknowledged, so the audit row that raised it carries
    this hash of what staff are shown, and `audit verify` checks the row against it."""
    return sha256(canonical({"alert": alert_id, "intake_id": intake_id, "question": question,
                             "urgency": urgency, "raised_at": raised_at}))


# What audit verify checks of a staff account: the columns of ``users`` that decide who signs in, as
# what, with which password and second factor, each with the value that leaves it out of the hash.
# A column added by a later migration is listed here once, with the value it is added with, so that
# accounts hashed before it still verify; a column not in the store (yet) is skipped. Left out on
# purpose: a column that changes without an audit row (the last TOTP step used, at each sign-in).
REQUIRED = object()  # always hashed
ACCOUNT_COLUMNS: dict[str, Any] = {
    "name": REQUIRED, "role": REQUIRED, "password_hash": REQUIRED, "disabled": REQUIRED,
    "created_at": REQUIRED, "created_by": REQUIRED, "changed_at": REQUIRED,
    "totp_secret": None,  # the second factor's secret (guard): NULL until enrolled
    "session_generation": 0,  # goes up when an account's sessions must end (sessions)
}


# Rows of other tables that belong to an account and decide how it signs in, hashed with it when the
# table is in the store: table -> (the column naming the account, the columns hashed). The one-time
# recovery codes of the second factor (guard): a code's hash inserted by hand would open the account.
ACCOUNT_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "recovery_codes": ("user_name", ("code_sha256", "used_at")),
}


def account_state(db, name: str) -> dict[str, Any] | None:
    """The hashed state of one account as stored now (None: no such account)."""
    cursor = db.execute("SELECT * FROM users WHERE name = ?", (name,))
    row = cursor.fetchone()
    if row is None:
        return None
    return account_columns(dict(zip([column[0] for column in cursor.description], row)), db)


def account_columns(row: dict[str, Any], db=None) -> dict[str, Any]:
    state = {column: row[column] for column, omitted in ACCOUNT_COLUMNS.items()
             if column in row and (omitted is REQUIRED or row[column] != omitted)}
    for table, (owner, columns) in ACCOUNT_TABLES.items():
        if db is not None and _table_exists(db, table):
            rows = db.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {owner} = ? ORDER BY {columns[0]}",
                              (row["name"],)).fetchall()
            if rows:  # none: left out, so accounts hashed before the table existed still verify
                state[table] = [list(found) for found in rows]
    return state


def _table_exists(db, table: str) -> bool:
    if isinstance(db, sqlite3.Connection):
        return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None
    return bool(db.execute("SELECT to_regclass(?) IS NOT NULL", (table,)).fetchone()[0])


def account_hash(state: dict[str, Any]) -> str:
    """An account row is changed in place (a reset, a disable, a second factor), so every audit row
    about it carries this hash of its state right after, and `audit verify` checks the row against
    the last one."""
    return sha256(canonical({"account": state}))


def invite_hash(code_sha256: str, intake_id: int, base_version: int, created_at: str, created_by: str,
                expires_at: str, language: str) -> str:
    """The audit row that issued an invitation carries this hash of it: where its code leads, from
    which version, until when (the code itself is never kept)."""
    return sha256(canonical({"invite": code_sha256, "intake_id": intake_id, "base_version": base_version,
                             "created_at": created_at, "created_by": created_by, "expires_at": expires_at,
                             "language": language}))


INVITE_COLUMNS = "code_sha256, intake_id, base_version, created_at, created_by, expires_at, language"


def audit_hash(seq: int, at: str, user: str, action: str, intake_id: int | None, version: int | None,
               detail: str, prev_hash: str) -> str:
    return sha256(canonical([seq, at, user, action, intake_id, version, detail, prev_hash]))


# -- the keyed chain ------------------------------------------------------------------------------
# With a key file outside the database (TRIAGE_AUDIT_KEY_FILE, or ``audit verify --key-file``), each
# audit row's hash is an HMAC-SHA256 under a key the database never holds, written as
# ``k<key id>:<hex>``: someone who holds only the database can still change rows, but can no longer
# recompute a chain that verifies. Once a row is keyed, every later row must be (a writer without
# the key refuses to write). The file lists keys oldest first; writers use the newest, and one that
# finds the chain keyed with a key it does not hold reads the file again (a rotation: docs/security.md).
AUDIT_KEY_FILE_VARIABLE = "TRIAGE_AUDIT_KEY_FILE"
KEYED_PREFIX = "k"


@dataclass(frozen=True)
class AuditKeys:
    path: Path
    keys: tuple[tuple[str, bytes], ...]  # (key id, key), oldest first

    @classmethod
    def load(cls, path: Path | str) -> "AuditKeys":
        path = Path(path)
        try:
            info = path.stat()
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            raise StoreError(f"{path}: no audit key file here") from None
        except (OSError, UnicodeDecodeError) as error:
            raise StoreError(f"{path}: cannot read the audit key file ({type(error).__name__})") from None
        if info.st_mode & 0o077:
            raise StoreError(f"{path}: the audit key file can be read by others; make it the owner's only "
                             "(chmod 600)")
        keys = []
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                key = bytes.fromhex(line)
            except ValueError:
                key = b""
            if len(key) < 32:
                raise StoreError(f"{path}: line {number} is not a key (64 or more hex digits: "
                                 "python3 -c 'import secrets; print(secrets.token_hex(32))')")
            keys.append((key_id(key), key))
        if not keys:
            raise StoreError(f"{path}: the audit key file holds no key")
        return cls(path, tuple(keys))

    @property
    def newest(self) -> tuple[str, bytes]:
        return self.keys[-1]

    def get(self, ident: str) -> bytes | None:
        return next((key for known, key in self.keys if known == ident), None)

    def order(self, ident: str) -> int:
        return next((number for number, (known, _) in enumerate(self.keys) if known == ident), -1)


def key_id(key: bytes) -> str:
    """Names a key in the rows it signed without revealing it."""
    return hashlib.sha256(b"fbss-triage audit key id\0" + key).hexdigest()[:12]


def keyed_audit_hash(ident: str, key: bytes, seq: int, at: str, user: str, action: str, intake_id: int | None,
                     version: int | None, detail: str, prev_hash: str) -> str:
    message = canonical([ident, seq, at, user, action, intake_id, version, detail, prev_hash])
    return f"{KEYED_PREFIX}{ident}:{hmac.new(key, message.encode('utf-8'), hashlib.sha256).hexdigest()}"


def keyed_by(digest: str) -> str | None:
    """The key id of a keyed row's hash; None for a plain SHA-256."""
    if digest.startswith(KEYED_PREFIX) and ":" in digest:
        return digest[len(KEYED_PREFIX):digest.index(":")]
    return None


def audit_keys_from_environment() -> AuditKeys | None:
    path = os.environ.get(AUDIT_KEY_FILE_VARIABLE, "").strip()
    return AuditKeys.load(path) if path else None


# The key file of the store being migrated (its migrations write audit rows, like any writer).
_MIGRATION_KEYS: ContextVar[AuditKeys | None] = ContextVar("triage_migration_keys", default=None)


def _row_hash(keys: AuditKeys | None, prev: str, seq: int, at: str, user: str, action: str, intake_id: int | None,
              version: int | None, text: str) -> str:
    """The hash of a new row: keyed when a key file is given; a chain that is keyed already is never
    continued without its key."""
    keyed = keyed_by(prev)
    if keys is not None and keyed is not None and keys.get(keyed) is None:
        keys = AuditKeys.load(keys.path)  # rotated since this process read it?
        if keys.get(keyed) is None:
            raise AuditKeyMissing(f"{keys.path}: the store's audit log is keyed with a key this file does not "
                                  f"hold (key id {keyed}); give the current key file; nothing was saved")
    if keys is None:
        if keyed is not None:
            raise AuditKeyMissing(f"the store's audit log is keyed (key id {keyed}): give its key file "
                                  f"({AUDIT_KEY_FILE_VARIABLE}); nothing was saved")
        return audit_hash(seq, at, user, action, intake_id, version, text, prev)
    ident, key = keys.newest
    return keyed_audit_hash(ident, key, seq, at, user, action, intake_id, version, text, prev)


def _append_audit(db: sqlite3.Connection, at: str, user: str, action: str, intake_id: int | None,
                  version: int | None, detail: dict[str, Any], keys: AuditKeys | None = None) -> None:
    """Append one row to the audit chain and move its head (inside the caller's transaction). A row
    about an account (no intake, ``name`` in its detail) carries the hash of the account's state as
    the transaction leaves it, whoever wrote the row: `audit verify` compares the last one with the
    account."""
    name = detail.get("name") if intake_id is None else None
    if isinstance(name, str):
        state = account_state(db, name)
        if state is not None:
            detail = {**detail, "account_sha256": account_hash(state)}
    head = db.execute("SELECT seq, hash FROM audit_head").fetchone()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    text = canonical(detail)
    digest = _row_hash(keys or _MIGRATION_KEYS.get(), prev, seq, at, user, action, intake_id, version, text)
    db.execute("INSERT INTO audit (seq, at, \"user\", action, intake_id, version, detail, prev_hash, hash)"
               " VALUES (?,?,?,?,?,?,?,?,?)", (seq, at, user, action, intake_id, version, text, prev, digest))
    db.execute("INSERT INTO audit_head (one, seq, hash) VALUES (1, ?, ?)"
               " ON CONFLICT(one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash", (seq, digest))
