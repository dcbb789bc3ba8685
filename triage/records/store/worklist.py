"""The worklist: one derived row per intake (what `list` and the staff pages show and filter by), its
rank, written with every change to its intake and checked by `audit verify` with the same functions."""

from __future__ import annotations

import json
from typing import Any

import triage.records.store.counts as counts


# -- the worklist -----------------------------------------------------------------------------
# One row per intake: what `list` shows and filters by, so that listing never parses a stored
# result. It is derived data: written with every change to its intake, from the latest version (or
# the draft of an intake that has none) by ``worklist_entry``, and checked by `audit verify` with the
# same function, so a hand-edited worklist is found like any other changed value.

_URGENCY_RANK = {"emergency": 0, "same_day": 1, "soon": 2}
_STATUS_RANK = {"too_early": 3, "records_needed": 4, "ready_for_evaluation": 5, "draft": 6}
WORKLIST_KINDS = ("missing", "va_to_do")


def worklist_rank(status: str, urgency: str | None, missing: list[str], alert_urgency: str | None = None) -> int:
    """The worklist's order: urgent first, by urgency tier (emergency, same day, soon), then too
    early, records needed, ready for evaluation, and intakes that only have a draft; within each,
    an open red-flag screen before the rest. An intake with an open red-flag alert sorts by the
    alert's tier among the urgent ones, whatever its status (a draft not sent yet included)."""
    tiers = []
    if status == "urgent":
        tiers.append(_URGENCY_RANK.get(urgency or "", 0))  # an unknown tier sorts with the most urgent
    if alert_urgency is not None:
        tiers.append(_URGENCY_RANK.get(alert_urgency, 0))
    tier = min(tiers) if tiers else _STATUS_RANK.get(status, 7)
    return tier * 2 + (0 if "red_flag_screen" in missing else 1)


def most_urgent(tiers) -> str | None:
    """The most urgent of these tiers (None: none)."""
    ranked = sorted((tier for tier in tiers if tier), key=lambda tier: _URGENCY_RANK.get(tier, 0))
    return ranked[0] if ranked else None


def open_alert_tier(db, intake_id: int) -> str | None:
    """The most urgent tier of an intake's open (unacknowledged) red-flag alerts; None: none."""
    return open_alert_state(db, intake_id)[0]


def open_alert_state(db, intake_id: int) -> tuple[str | None, bool]:
    """(the most urgent tier of an intake's open alerts, whether every one of them is a backlog's)."""
    rows = db.execute("SELECT urgency, backlog FROM alerts WHERE intake_id = ? AND acknowledged_at IS NULL",
                      (intake_id,)).fetchall()
    return most_urgent(row[0] for row in rows), bool(rows) and all(row[1] for row in rows)


def worklist_entry(version: int, answers: dict[str, Any], result: dict[str, Any] | None, recorded_at: str,
                   draft_pending: bool, alert_urgency: str | None = None, alert_backlog: bool = False) -> dict[str, Any]:
    """The worklist row of an intake: from its latest version's answers and result, or (version 0,
    result None) from the answers of its draft; ``alert_urgency``: the most urgent tier of its open
    red-flag alerts (``open_alert_tier``)."""
    if result is None:
        status, urgency, months, assessed = "draft", None, None, answers.get("assessment_date")
        items: dict[str, list[str]] = {kind: [] for kind in WORKLIST_KINDS}
    else:
        status = str(result.get("status"))
        urgency = (result.get("physician_consult") or {}).get("urgency")
        months, assessed = result.get("months_since_fusion"), result.get("assessment_date")
        va = next((point for point in result.get("discussion_points") or []
                   if point.get("id") == "va_community_care"), {})
        items = {"missing": [str(item.get("id")) for item in result.get("missing_items") or []],
                 "va_to_do": [str(step) for step in va.get("to_do") or []]}
    return {
        "version": version, "rank": worklist_rank(status, urgency, items["missing"], alert_urgency),
        "status": status, "urgency": urgency, "alert_urgency": alert_urgency,
        "patient_id": answers.get("patient_id"), "months_since_fusion": months,
        "assessment_date": None if assessed is None else str(assessed), "recorded_at": recorded_at,
        "draft_pending": int(bool(draft_pending)), "items": items,
        "alert_backlog": int(bool(alert_backlog and alert_urgency is not None)),
    }


_WORKLIST_COLUMNS = ("version", "rank", "status", "urgency", "patient_id", "months_since_fusion",
                     "assessment_date", "recorded_at", "draft_pending", "alert_urgency", "alert_backlog")


def _write_worklist(db, intake_id: int, entry: dict[str, Any], before: dict[str, Any] | None = None) -> None:
    """Write an intake's worklist row, and move the counts kept with the worklist from what the old
    row counted to what the new one does (triage/records/store/counts.py), in the caller's transaction.
    ``before``: the old row when the caller knows it (an autosave: no read)."""
    old = before if before is not None else stored_worklist(db, intake_id)
    counts.move(db, counts.count_keys(old), counts.count_keys(entry))
    values = [entry[column] for column in _WORKLIST_COLUMNS]
    db.execute(f"INSERT INTO worklist (intake_id, {', '.join(_WORKLIST_COLUMNS)}) VALUES (?{', ?' * len(values)})"
               f" ON CONFLICT(intake_id) DO UPDATE SET "
               + ", ".join(f"{column} = excluded.{column}" for column in _WORKLIST_COLUMNS),
               (intake_id, *values))
    db.execute("DELETE FROM worklist_items WHERE intake_id = ?", (intake_id,))
    db.executemany("INSERT INTO worklist_items (intake_id, kind, position, item) VALUES (?, ?, ?, ?)",
                   [(intake_id, kind, position, item) for kind in WORKLIST_KINDS
                    for position, item in enumerate(entry["items"][kind])])


def expected_worklist(db, intake_id: int) -> dict[str, Any] | None:
    """The worklist row an intake must have, from what is recorded (None: no version, no draft)."""
    latest = db.execute("SELECT version, answers, result, recorded_at FROM versions WHERE intake_id = ?"
                        " ORDER BY version DESC LIMIT 1", (intake_id,)).fetchone()
    draft = db.execute("SELECT answers, saved_at FROM drafts WHERE intake_id = ?", (intake_id,)).fetchone()
    alert, backlog = open_alert_state(db, intake_id)
    if latest is not None:
        return worklist_entry(latest[0], json.loads(latest[1]), json.loads(latest[2]), latest[3], draft is not None,
                              alert, backlog)
    if draft is not None:
        return worklist_entry(0, json.loads(draft[0]), None, draft[1], True, alert, backlog)
    return None


def stored_worklist(db, intake_id: int) -> dict[str, Any] | None:
    row = db.execute(f"SELECT {', '.join(_WORKLIST_COLUMNS)} FROM worklist WHERE intake_id = ?",
                     (intake_id,)).fetchone()
    if row is None:
        return None
    entry = dict(zip(_WORKLIST_COLUMNS, row))
    entry["items"] = {kind: [] for kind in WORKLIST_KINDS}
    positions: dict[str, list[int]] = {}
    for kind, position, item in db.execute("SELECT kind, position, item FROM worklist_items WHERE intake_id = ?"
                                           " ORDER BY kind, position", (intake_id,)):
        entry["items"].setdefault(kind, []).append(item)
        positions.setdefault(kind, []).append(position)
    for kind, numbers in positions.items():  # positions are 0, 1, 2...: anything else was edited
        if numbers != list(range(len(numbers))):
            entry["items"][kind] = None
    return entry


def _refresh_worklist(db, intake_id: int) -> None:
    entry = expected_worklist(db, intake_id)
    if entry is not None:
        _write_worklist(db, intake_id, entry)
