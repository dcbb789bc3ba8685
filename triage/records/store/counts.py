"""The worklist's counts, kept with it: how many intakes each status, filter and red-flag tier holds,
so that a staff page shows them without counting the table (at 100,000 intakes a count of the
worklist on every page cost more than the page itself).

One row per key in ``worklist_counts``; every write of a worklist row moves the counts of the keys
the old row had and the new one has (``count_keys``), in the same transaction, so they are exact
whenever a transaction ends. They are derived data: ``expected_counts`` recounts them from the
worklist, which opening an older store does (the migration) and `audit verify` compares.
"""

from __future__ import annotations

from typing import Any

TIERS = ("emergency", "same_day", "soon")
KINDS = ("missing", "va_to_do")
ALL = "all"
URGENT = "urgent"  # status urgent, or an open red-flag alert (the urgent filter's intakes)
ALERTS = "alert"  # intakes with a live open red-flag alert; "alert:TIER" by the most urgent open one
BACKLOG = "backlog"  # intakes whose open alerts are all a batch backlog's (docs/red-flags.md)


def count_keys(entry: dict[str, Any] | None) -> set[str]:
    """The counts a worklist row adds one to (``worklist_entry``'s or ``stored_worklist``'s dict)."""
    if entry is None:
        return set()
    status, urgency, alert = entry["status"], entry.get("urgency"), entry.get("alert_urgency")
    keys = {ALL, f"status:{status}"}
    if status == "urgent" or alert is not None:
        keys.add(URGENT)
    for tier in TIERS:  # the urgency filter: the tier of an urgent intake, or of an open alert
        if (status == "urgent" and urgency == tier) or alert == tier:
            keys.add(f"urgency:{tier}")
    for kind in KINDS:
        items = (entry.get("items") or {}).get(kind) or []
        keys.update(f"{kind}:{item}" for item in items)
        if items:
            keys.add(kind)
    if alert is not None:
        keys.update((BACKLOG,) if entry.get("alert_backlog") else (ALERTS, f"{ALERTS}:{alert}"))
    return keys


def move(db, before: set[str], after: set[str]) -> None:
    """Count a worklist row's change: one less for the keys it left, one more for those it joined."""
    changes = [(key, 1) for key in sorted(after - before)] + [(key, -1) for key in sorted(before - after)]
    if changes:
        db.executemany("INSERT INTO worklist_counts (key, intakes) VALUES (?, ?) ON CONFLICT (key)"
                       " DO UPDATE SET intakes = worklist_counts.intakes + excluded.intakes", changes)
    left = sorted(before - after)
    if left:  # a count down to nothing has no row (so that every row there is a count audit verify checks)
        db.execute(f"DELETE FROM worklist_counts WHERE intakes = 0 AND key IN ({', '.join('?' * len(left))})", left)


def expected_counts(db) -> dict[str, int]:
    """The counts recounted from the worklist (a few grouped scans: for migrations and verify)."""
    counts: dict[str, int] = {ALL: db.execute("SELECT count(*) FROM worklist").fetchone()[0]}
    for status, number in db.execute("SELECT status, count(*) FROM worklist GROUP BY status").fetchall():
        counts[f"status:{status}"] = number
    counts[URGENT] = db.execute("SELECT count(*) FROM worklist WHERE status = 'urgent'"
                                " OR alert_urgency IS NOT NULL").fetchone()[0]
    for tier in TIERS:
        counts[f"urgency:{tier}"] = db.execute(
            "SELECT count(*) FROM worklist WHERE (status = 'urgent' AND urgency = ?) OR alert_urgency = ?",
            (tier, tier)).fetchone()[0]
    for kind, item, number in db.execute("SELECT kind, item, count(DISTINCT intake_id) FROM worklist_items"
                                         " GROUP BY kind, item").fetchall():
        counts[f"{kind}:{item}"] = number
    for kind, number in db.execute("SELECT kind, count(DISTINCT intake_id) FROM worklist_items"
                                   " GROUP BY kind").fetchall():
        counts[kind] = number
    for tier, number in db.execute("SELECT alert_urgency, count(*) FROM worklist WHERE alert_urgency IS NOT NULL"
                                   " AND alert_backlog = 0 GROUP BY alert_urgency").fetchall():
        counts[f"{ALERTS}:{tier}"] = number
    counts[ALERTS] = sum(number for key, number in counts.items() if key.startswith(f"{ALERTS}:"))
    counts[BACKLOG] = db.execute("SELECT count(*) FROM worklist WHERE alert_urgency IS NOT NULL"
                                 " AND alert_backlog = 1").fetchone()[0]
    return {key: number for key, number in counts.items() if number}


def stored_counts(db) -> dict[str, int]:
    """Every row kept (a row of 0 should not be there: ``move`` removes it, so it counts as a change)."""
    return dict(db.execute("SELECT key, intakes FROM worklist_counts").fetchall())


def recount(db) -> None:
    """Fill the counts from the worklist (a store from before they were kept)."""
    db.execute("DELETE FROM worklist_counts")
    db.executemany("INSERT INTO worklist_counts (key, intakes) VALUES (?, ?)", sorted(expected_counts(db).items()))


def read(db, *keys: str) -> dict[str, int]:
    """The counts of ``keys`` (0 for a key nobody holds), by primary key."""
    found = dict(db.execute(f"SELECT key, intakes FROM worklist_counts WHERE key IN ({', '.join('?' * len(keys))})",
                            keys).fetchall()) if keys else {}
    return {key: found.get(key, 0) for key in keys}


def filter_key(status: str | None, missing: str | None, urgency: str | None, va_to_do: str | bool | None) -> str | None:
    """The count that answers a worklist filter of one criterion (None: several criteria, counted
    by a bounded query instead)."""
    criteria = [key for key in (
        None if status is None else (URGENT if status == "urgent" else f"status:{status}"),
        None if missing is None else f"missing:{missing}",
        None if urgency is None else f"urgency:{urgency}",
        None if va_to_do in (None, False) else ("va_to_do" if va_to_do is True else f"va_to_do:{va_to_do}"),
    ) if key is not None]
    if not criteria:
        return ALL
    return criteria[0] if len(criteria) == 1 else None
