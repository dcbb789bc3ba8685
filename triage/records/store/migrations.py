"""The Python steps of migrations (after their SQL), shared by both backends: sealing what an older
store holds with its hash, filling the worklist, raising the alerts of stored red flags. They run
today's code on the migrating connection; a backend passes what differs (a new row's id)."""

from __future__ import annotations

import json
import sqlite3
from typing import Callable

import triage.records.store.counts as counts
from triage.records.store.audit import INVITE_COLUMNS, draft_hash, invite_hash, _MIGRATION_KEYS, _append_audit
from triage.records.store.core import Store
from triage.records.store.model import ACCOUNT_SEALED, DRAFT_SEALED, INVITE_SEALED, MIGRATION_USER, utc_now
from triage.records.store.worklist import _refresh_worklist


def _seal_drafts(db: sqlite3.Connection) -> None:
    """Schema 2: drafts saved before drafts were hashed are sealed as found, one audit row each, so
    that from now on any change to them is detected (what happened to them before cannot be)."""
    now = utc_now()
    for intake_id, answers, revision, base, saved_at, saved_by in db.execute(
            "SELECT intake_id, answers, revision, base_version, saved_at, saved_by FROM drafts ORDER BY intake_id"
    ).fetchall():
        digest = draft_hash(intake_id, json.loads(answers), revision, base, saved_at, saved_by)
        _append_audit(db, now, MIGRATION_USER, DRAFT_SEALED, intake_id, None,
                      {"revision": revision, "draft_sha256": digest})


def _fill_worklist(db: sqlite3.Connection) -> None:
    """Schema 6: a worklist row for every intake, from its latest version (or its draft)."""
    for (intake_id,) in db.execute("SELECT id FROM intakes ORDER BY id").fetchall():
        _refresh_worklist(db, intake_id)


def _seal_accounts_and_invites(db) -> None:
    """Schema 8 (either backend): each account and invitation found in the store gets an audit row
    with its hash, so that from now on a change to it is found (what happened before cannot be)."""
    now = utc_now()
    for (name,) in db.execute("SELECT name FROM users ORDER BY name").fetchall():
        _append_audit(db, now, MIGRATION_USER, ACCOUNT_SEALED, None, None, {"name": name})  # hash added there
    for row in db.execute(f"SELECT {INVITE_COLUMNS} FROM invites ORDER BY created_at, code_sha256").fetchall():
        _append_audit(db, now, MIGRATION_USER, INVITE_SEALED, row[1], None, {"invite_sha256": invite_hash(*row)})


def _raise_stored_red_flags(db, insert_id: Callable) -> None:
    """Schema 12: alerts are raised when answers are saved, drafts included; a draft saved before with
    a red flag answered yes (a terminal intake, stopped or interrupted) raises its alert now, and
    every intake with an open alert gets its worklist row again (sorted by the alert's tier)."""
    now = utc_now()
    store = Store.__new__(Store)  # only its alert methods, on this connection (inside the migration)
    store._backend = _MigrationBackend(insert_id)
    store._clock = lambda: now
    store.red_flag_tiers = None
    store.audit_keys = _MIGRATION_KEYS.get()  # its audit rows are keyed like the migration's others
    for intake_id, answers in db.execute("SELECT intake_id, answers FROM drafts ORDER BY intake_id").fetchall():
        try:
            parsed = json.loads(answers)
        except ValueError:
            continue  # a damaged draft: audit verify names it
        if isinstance(parsed, dict):
            store._sync_alerts(db, intake_id, parsed, now)
    for (intake_id,) in db.execute("SELECT DISTINCT intake_id FROM alerts ORDER BY intake_id").fetchall():
        _refresh_worklist(db, intake_id)


class _MigrationBackend:
    """What ``Store._raise_alert`` needs of a backend during a migration: a new alert's id (the
    migrating backend's ``insert_id``)."""

    def __init__(self, insert_id: Callable):
        self.insert_id = insert_id


def _recount(db) -> None:
    """Schema 17 (either backend): the counts kept with the worklist, counted from it once."""
    counts.recount(db)
