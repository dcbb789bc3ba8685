"""The access log: who viewed, listed, exported, signed in or out. Apart from the audit chain, so that
a page view never waits for the writers of records, nor they for it (every page view took the audit
chain's lock, on PostgreSQL a row lock on ``audit_head``, and writers of several processes queued
behind page views).

Its own chain, with its own head (``access_head``): each row holds the hash of the row before it and
its own (keyed like the audit chain's when a key file is given), so `audit verify` finds a row
changed, added or removed anywhere, or cut from the end, as it does for the audit chain. Page views
queue only behind page views (a short insert and an update of the head). Nothing in it changes what
staff see: every row that does (versions, drafts, alerts, accounts, invitations) stays in the audit
chain.
"""

from __future__ import annotations

from typing import Any, Callable

from triage.records.store.audit import _row_hash, canonical

GENESIS = "0" * 64


def append(db, at: str, user: str, action: str, intake_id: int | None, version: int | None,
           detail: dict[str, Any], keys) -> None:
    """One row at the end of the access log, its head moved (inside the caller's transaction, which
    holds the access log's lock: ``write_access``)."""
    head = db.execute("SELECT seq, hash FROM access_head WHERE one = 1").fetchone()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    text = canonical(detail)
    digest = _row_hash(keys, prev, seq, at, user, action, intake_id, version, text)
    db.execute("INSERT INTO access_log (seq, at, \"user\", action, intake_id, version, detail, prev_hash, hash)"
               " VALUES (?,?,?,?,?,?,?,?,?)", (seq, at, user, action, intake_id, version, text, prev, digest))
    db.execute("INSERT INTO access_head (one, seq, hash) VALUES (1, ?, ?)"
               " ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash", (seq, digest))


def check(db, stream: Callable, matches: Callable, tick: Callable[[], None]) -> tuple[list[str], int]:
    """The problems found in the access log (each row's hash and link, the numbering, the head) and
    its rows.
    ``matches(seq, at, user, action, intake_id, version, detail, prev, digest)``: whether a row's hash
    is right (the verifier's, which knows the audit keys)."""
    problems: list[str] = []
    rows = 0
    expected_prev, expected_seq = GENESIS, 1
    for seq, at, user, action, intake_id, version, detail, prev, digest in stream(
            "SELECT seq, at, \"user\", action, intake_id, version, detail, prev_hash, hash FROM access_log ORDER BY seq"):
        tick()
        rows += 1
        where = f"access log row {seq}"
        if seq != expected_seq:
            problems.append(f"access log rows {expected_seq}-{seq - 1}: missing (removed)")
        if prev != expected_prev:
            problems.append(f"{where}: does not follow the row before it (a row was changed, added or removed)")
        if not matches(seq, at, user, action, intake_id, version, detail, prev, digest):
            problems.append(f"{where}: its content does not match its hash (changed)")
        expected_prev, expected_seq = digest, seq + 1
    head = db.execute("SELECT seq, hash FROM access_head WHERE one = 1").fetchone() or (0, GENESIS)
    if (head[0], head[1]) != (expected_seq - 1, expected_prev):
        problems.append(f"access log head: row {head[0]} expected, the log ends at row {expected_seq - 1} "
                        "(rows cut from the end, or the head changed)")
    return problems, rows
