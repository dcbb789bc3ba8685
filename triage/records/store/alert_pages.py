"""The staff alerts page a page at a time: intakes with open red-flag alerts, the most urgent tier
first, newest first within it, read through an index of the open alerts and stopped after one page
(at 100,000 intakes with a third of them alerted, reading every open alert took seconds).

Two lists: live (the intake has an open alert raised as answers came in) and backlog (every open
alert of the intake was raised by `triage batch --save` for a line assessed before its recent
window). An intake is placed by its most urgent open alert of its list, at the newest one of that
tier; the page shows every open alert of the intakes on it.
"""

from __future__ import annotations

import re

TIERS = ("emergency", "same_day", "soon")
_TIER_RANK = "CASE {0}.urgency WHEN 'emergency' THEN 0 WHEN 'same_day' THEN 1 ELSE 2 END"
_POSITION = re.compile(r"([0-2])~([0-9A-Za-z:.+-]{1,40})~([0-9]{1,18})")


def position_text(tier_index: int, raised_at: str, alert_id: int) -> str:
    return f"{tier_index}~{raised_at}~{alert_id}"


def parse_position(text: str | None) -> tuple[int, str, int] | None:
    """The position after which a page starts; ValueError for anything this module did not write."""
    if not text:
        return None
    match = _POSITION.fullmatch(text)
    if match is None:
        raise ValueError("not a position in the alerts list")
    return int(match.group(1)), match.group(2), int(match.group(3))


def page_heads(db, *, backlog: bool, after: str | None, limit: int) -> tuple[list[int], str | None]:
    """The intakes of one page, in order, and the position of the next page (None: the last)."""
    position = parse_position(after)
    heads: list[tuple[int, int, str, int]] = []  # (tier index, alert id, raised_at, intake id)
    for index, tier in enumerate(TIERS):
        if position is not None and index < position[0]:
            continue
        # Only the open alerts of this list and tier (a partial index), newest first; an alert heads
        # its intake's row when no open alert of the same list is more urgent, or as urgent and newer.
        sql = ("SELECT a.id, a.raised_at, a.intake_id FROM alerts a"
               " JOIN worklist w ON w.intake_id = a.intake_id AND w.alert_backlog = ?"
               " WHERE a.acknowledged_at IS NULL AND a.backlog = ? AND a.urgency = ?"
               " AND NOT EXISTS (SELECT 1 FROM alerts b WHERE b.intake_id = a.intake_id AND b.acknowledged_at IS NULL"
               f"   AND b.backlog = a.backlog AND ({_TIER_RANK.format('b')} < ?"
               f"   OR ({_TIER_RANK.format('b')} = ? AND (b.raised_at > a.raised_at"
               "   OR (b.raised_at = a.raised_at AND b.id > a.id)))))")
        params: list = [int(backlog), int(backlog), tier, index, index]
        if position is not None and index == position[0]:
            sql += " AND (a.raised_at < ? OR (a.raised_at = ? AND a.id < ?))"
            params += [position[1], position[1], position[2]]
        sql += " ORDER BY a.raised_at DESC, a.id DESC LIMIT ?"
        params.append(limit + 1 - len(heads))
        heads += [(index, row[0], row[1], row[2]) for row in db.execute(sql, params).fetchall()]
        if len(heads) > limit:
            break
    more = len(heads) > limit
    heads = heads[:limit]
    following = position_text(heads[-1][0], heads[-1][2], heads[-1][1]) if more else None
    return [head[3] for head in heads], following
