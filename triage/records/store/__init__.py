"""The intake store: a database of intakes, their versions and an audit log. An embedded SQLite file by
default; on a PostgreSQL server (``postgresql://...``) for a network of clinics. One ``Store`` and one
set of SQL statements for both: a backend supplies the few things that differ.

This package's face: the rest of triage imports the store from here (``from triage.records.store import
open_store, Store, Record``). Its modules, each importing only those listed before it:
  model.py       the action names, dataclasses (Record, Draft, Alert...), the clock and paths
  audit.py       the hashes, the audit chain and its keys (AuditKeys)
  worklist.py    the derived worklist rows and their rank
  files.py       the pages of a patient's records (RecordFiles, mixed into Store; issue 30)
  schema.py      the SQLite schema: MIGRATIONS (SQL), SCHEMA_VERSION
  backend.py     what a backend supplies (the Backend protocol)
  verify.py      `audit verify` (the checks of Store.verify_audit)
  core.py        the Store
  migrations.py  the Python steps of migrations, shared by both backends
  sqlite.py      SQLiteBackend and opening a file (read-only, a backup copy)
  postgresql.py  the PostgreSQL backend, its schema, migrations and roles (psycopg, imported only
                 for a postgresql:// store)
  opener.py      open_store: picks the backend (the only importer of postgresql.py)
The backends import the shared modules, never each other (tests/whole/test_architecture.py).

Domain core: stdlib only (sqlite3, json, hashlib); it never imports the engine, rich or the CLI and
works on plain JSON dicts (the answers contract and the result contract).

What it guarantees
- Nothing recorded is overwritten: every assessment is a new row in ``versions`` (latest = highest
  version); triggers refuse UPDATE and DELETE on ``versions`` and ``audit``.
- Lost updates are refused: a change based on version N of an intake is only written while N is
  still the latest (optimistic concurrency); otherwise ``Conflict`` and nothing is written.
- Crash safety: WAL, ``synchronous=FULL``, one ``BEGIN IMMEDIATE`` transaction per change, so a
  change is either fully there after ``commit`` returns or not there at all. One exception, asked
  for by the caller: a draft saved with ``durable=False`` (the web's save at each Continue) is
  committed without waiting for the disk; see ``save_draft``.
- Tamper evidence: each audit row carries the hash of the previous row; each version's content hash
  is also written into the audit row that recorded it, each account's and invitation's hash into the
  rows about it (``verify_audit`` checks all of them, and re-triages each version's answers); with a
  key file outside the database the chain is a keyed MAC (``AuditKeys``, docs/security.md).
- Privacy: the database file is 0600 in a 0700 folder we create; errors and audit rows carry ids,
  versions and hashes, never an answer value.

Drafts (a questionnaire being answered) are work in progress, not records: one per intake, saved in
place at each answer (``save_draft``), resumable by intake id, removed when the assessment is recorded.
"""

from triage.records.store.audit import (ACCOUNT_COLUMNS, ACCOUNT_TABLES, AUDIT_KEY_FILE_VARIABLE, GENESIS, INVITE_COLUMNS,
                                KEYED_PREFIX, REQUIRED, AuditKeys, account_columns, account_hash, account_state,
                                alert_hash, audit_hash, audit_keys_from_environment, canonical, content_hash,
                                draft_hash, invite_hash, key_id, keyed_audit_hash, keyed_by, sha256)
from triage.records.store.core import Store, shipped_red_flag_tiers
from triage.records.store.files import (RECORD_FILE_ADDED, RECORD_FILE_DOWNLOADED, RECORD_FILE_REMOVED, RECORD_ITEMS,
                                FileNotFound, RecordFile, RecordReceived, record_file_hash)
from triage.records.store.migrations import _fill_worklist
from triage.records.store.model import (ACCOUNT_SEALED, ACKNOWLEDGED, BULK_ACKNOWLEDGED, ALERT_ANSWER_CHANGED, ALERT_RAISED, AMENDED, APP_FOLDER,
                                CODE_LOCKED, CODE_THROTTLED, CREATED, DB_NAME, DRAFT_SAVED, DRAFT_SEALED, EXPORTED,
                                GUEST_USER, INVITE_SEALED, INVITED, LISTED, MIGRATION_USER, PASSWORD_CHANGED,
                                PASSWORD_REHASHED, PASSWORD_RESET, RECOVERY_CODE_USED, ROLE_CHANGED,
                                SECOND_FACTOR_ENROLLED, SECOND_FACTOR_RESET, SECOND_FACTOR_SEALED, SESSION_KINDS, SESSIONS_ENDED,
                                SIGN_IN_FAILED, SIGN_IN_LOCKED, SIGN_IN_THROTTLED, SIGNED_IN, SIGNED_OUT, SYSTEM_USER,
                                USER_ADDED, USER_DISABLED, VIEWED, Alert, AlertPage, AuditReport, Draft, Invite, Record, User,
                                VersionInfo, WebSession, WorklistPage, WorklistRow, current_user, default_path,
                                stored_columns, utc_now)
from triage.records.store.opener import is_postgresql_url, open_store
from triage.records.store.requests import (RECORD_RECEIVED, RECORD_REQUESTED, RECORD_UNOBTAINABLE, REQUEST_COLUMNS, RecordRequest,
                                   request_hash)
from triage.records.store.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, _statements
from triage.records.store.sqlite import SQLiteBackend, open_copy
from triage.records.store.worklist import (WORKLIST_KINDS, expected_worklist, most_urgent, open_alert_tier, stored_worklist,
                                   worklist_entry, worklist_rank)

# Not re-exported on purpose: a setting a test changes (BUSY_TIMEOUT_SECONDS) is changed where it is read,
# triage.records.store.sqlite; set here, it would change nothing.
