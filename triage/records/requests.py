"""Records: from "missing" to "on file" (PRODUCT.md). A missing record item of an intake's result
(``surgical_report``, ``current_mri``) can be requested (from whom, how, when), received, or marked not
obtainable (with a reason); a request still open after the setting ``record_request_overdue_days`` is
overdue.

A received record changes the triage only through a new version of the intake (channel ``records``)
whose answers are the latest version's plus what staff read from the record, through the short form
that ``rules/record-items.toml`` defines (definitions are data). The rules then decide the status: an
intake whose last missing record arrives becomes ready for evaluation by the rules, never by hand.

Domain core: plain Python. The store keeps the requests (``Store.request_record`` ...); the terminal
(``triage records``) and the staff pages call ``received_answers`` and ``receive`` here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from triage.core.errors import InvalidInput, Problem, RecordNotMissing

# How a record was requested (the `--via` of `triage records request`).
VIA = ("fax", "phone", "portal", "mail", "in-person")
# A request's state: open, or closed one of two ways.
REQUESTED, RECEIVED, UNOBTAINABLE = "requested", "received", "unobtainable"
STATES = (REQUESTED, RECEIVED, UNOBTAINABLE)
RECORDS_SOURCE = "records"  # the channel (source) of a version made from a received record
LONGEST_TEXT = 200  # from whom, a reason, a note: a line, not a letter


def load_record_items():
    """The shipped record items (triage.records.items: pydantic is imported only when they are read,
    not by the store, which imports this module for RecordRequest)."""
    from triage.records.items import load_record_items as load

    return load()


def record_item_ids() -> tuple[str, ...]:
    return tuple(load_record_items().items)


def check_item(item: str) -> str:
    """An item id, or InvalidInput with a did-you-mean."""
    ids = record_item_ids()
    if item in ids:
        return item
    close = difflib.get_close_matches(item, ids, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}?" if close else f"one of: {', '.join(ids)}"
    raise InvalidInput([Problem("ITEM", f"{item!r} is not a record item ({hint})")])


def check_text(where: str, text: str, *, required: bool = True) -> str | None:
    """A one-line text (from whom, a reason, a note): trimmed, no control characters, not too long."""
    text = " ".join((text or "").split())
    if not text:
        if required:
            raise InvalidInput([Problem(where, "is empty: say it in a few words")])
        return None
    if any(ord(char) < 32 or 0x7f <= ord(char) < 0xa0 for char in text):
        raise InvalidInput([Problem(where, "holds control characters")])
    if len(text) > LONGEST_TEXT:
        raise InvalidInput([Problem(where, f"is longer than {LONGEST_TEXT} characters")])
    return text


def check_via(via: str) -> str:
    if via not in VIA:
        raise InvalidInput([Problem("via", f"{via!r} is not one of {', '.join(VIA)}")])
    return via


@dataclass(frozen=True)
class RecordRequest:
    """One request of a record item for an intake, as the store keeps it. A record received or given
    up on without an earlier request has no requester (``source``/``via``/``requested_at`` None)."""

    id: int
    intake_id: int
    item: str
    state: str  # requested | received | unobtainable
    source: str | None  # from whom (the surgeon's office, the imaging center, the patient)
    via: str | None  # one of VIA
    requested_at: str | None
    requested_by: str | None
    closed_at: str | None = None
    closed_by: str | None = None
    reason: str | None = None  # why not obtainable, or a note on the receipt
    received_version: int | None = None  # the intake version the record's answers made

    def overdue(self, now: str, days: int) -> bool:
        """Still open ``days`` after it was requested (the day itself counts as within)."""
        return self.state == REQUESTED and self.requested_at is not None and is_overdue(self.requested_at, now, days)

    def as_json(self) -> dict[str, Any]:
        return dict(vars(self))


def is_overdue(requested_at: str, now: str, days: int) -> bool:
    return _instant(now) - _instant(requested_at) > timedelta(days=days)


def overdue_on_page(store, days: int, intake_ids: list[int]) -> dict[int, list[str]]:
    """The record items whose request is overdue, of the intakes a worklist page shows (one indexed
    read, whatever the backlog): intake id -> items. The staff worklist and `triage list` tag rows so."""
    late: dict[int, list[str]] = {}
    for request in store.record_requests(overdue_after_days=days, intake_ids=intake_ids):
        late.setdefault(request.intake_id, []).append(request.item)
    return late


def overdue_before(now: str, days: int) -> str:
    """The instant (store text) before which an open request is overdue."""
    return (_instant(now) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")  # as the store writes times


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def missing_records(result: dict[str, Any]) -> list[str]:
    """The record items a result lists as missing, in the definition's order."""
    missing = {entry.get("id") for entry in result.get("missing_items") or []}
    return [item for item in record_item_ids() if item in missing]


def require_missing(intake_id: int, item: str, result: dict[str, Any], version: int,
                    received: "RecordRequest | None" = None) -> None:
    """RecordNotMissing unless the item is missing in the intake's latest version (``version``, its
    ``result``); ``received``: the item's last receipt, which the message names (already received)."""
    if item not in missing_records(result):
        why = (f"was already received {received.closed_at[:10]} by {received.closed_by}"
               + (f" (version {received.received_version})" if received.received_version else "")
               + f" and is not missing in version {version}") if received is not None and received.closed_at else \
            f"is not missing in version {version}"
        raise RecordNotMissing(intake_id, item, f"{why} (triage show {intake_id}); nothing to request, receive or mark")


def last_received(requests: list["RecordRequest"], item: str) -> "RecordRequest | None":
    received = [r for r in requests if r.item == item and r.state == RECEIVED]
    return max(received, key=lambda r: (r.closed_at or "", r.id)) if received else None


def received_answers(item: str, given: dict[str, Any]) -> dict[str, Any]:
    """What a received record sets in the answers: the item's fixed values and the values staff read
    from the record (``given``: field id or answer id -> value). A key that the item's form does not
    have, or a required field left out, is refused naming it; the values are checked with the
    answers themselves (``answers_with_record``)."""
    definition = load_record_items().items[check_item(item)]
    by_key = {**{field.answer: field for field in definition.entered}, **{field.id: field for field in definition.entered}}
    problems, changes = [], {}
    for key, value in given.items():
        field = by_key.get(key)
        if field is None:
            names = ", ".join(f.id for f in definition.entered) or "none"
            problems.append(Problem(str(key), f"is not read from the {definition.title} (its fields: {names})"))
            continue
        changes[field.answer] = value
    for field in definition.entered:
        if field.required and field.answer not in changes:
            problems.append(Problem(field.id, f"is needed: {field.label[0].lower()}{field.label[1:]}"))
    if problems:
        raise InvalidInput(problems)
    fixed = {field.answer: field.value for field in definition.fields if field.value is not None}
    return {**fixed, **changes}


def answers_with_record(previous: dict[str, Any], changes: dict[str, Any], today: date):
    """The new version's answers: the previous version's, with the record's changes, assessed as of
    ``today`` (the record arrived now: an MRI taken after the first assessment is not "in the future",
    and every interval is measured to the day the triage is done again). Checked like any answers."""
    from triage.core.answers import parse_answers

    raw = {**previous, **changes, "assessment_date": today.isoformat()}
    return parse_answers(raw, today=today)


def changed_answers(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Each answer that differs between two versions: {answer, before, after} (None: not answered)."""
    from triage.core.answers import QUESTION_IDS

    return [{"answer": key, "before": before.get(key), "after": after.get(key)}
            for key in QUESTION_IDS if before.get(key) != after.get(key)]


def form_value(answer: str, text: str) -> Any:
    """A value typed in the receive form (or ``--set FIELD=VALUE``) as the answers contract takes it:
    levels as a list ("L3-L4, L4-L5"; "none" = no level named, []; "unknown"), other answers as typed.
    The answers' own check then refuses a wrong one, naming the field."""
    from triage.core.answers import KINDS

    text = " ".join(text.split())
    if KINDS.get(answer) == "segments":
        if text.lower() in ("none", "no", "[]", ""):
            return []
        if text.lower() == "unknown":
            return "unknown"
        return [part for part in text.replace(";", ",").replace(" ", ",").split(",") if part]
    return text


@dataclass(frozen=True)
class Received:
    """What receiving a record did: the request (closed as received), the new version and its result."""

    request: RecordRequest
    version: int
    status: str
    changed: list[dict[str, Any]]


def receive(store, intake_id: int, item: str, given: dict[str, Any], *, by: str, ruleset, settings,
            today: date, note: str | None = None, base_version: int | None = None, files=(),
            channel: str = "records") -> Received:
    """Mark ``item`` received for the intake and triage again with what staff read from the record:
    the latest version's answers plus the form's (``received_answers``), assessed as of ``today``
    through the same path as any amendment (``assess_data``, then one store transaction that records
    the version, channel ``records``, closes the request and writes the audit rows). ``base_version``:
    the version the person looked at; another recorded since is a Conflict (nothing is written).
    ``files``: checked copies of the record (triage.records.uploads.check_upload), kept in that transaction."""
    from triage.decision.assess import assess_data

    item = check_item(item)
    note = check_text("note", note or "", required=False)
    record = store.get(intake_id)
    if base_version is not None and base_version != record.version:
        from triage.core.errors import Conflict

        raise Conflict(f"intake {intake_id}: version {record.version} was recorded since version {base_version}, "
                       f"which this change is based on; nothing was saved. Check `triage show {intake_id}` and "
                       "receive it again")
    if item not in missing_records(record.result):
        require_missing(intake_id, item, record.result, record.version,
                        last_received(store.record_requests(intake_id), item))
    changes = received_answers(item, given)
    answers = answers_with_record(record.answers, changes, today)
    result = assess_data(answers, ruleset, settings)
    request = store.receive_record(intake_id, item, by=by, note=note, answers=answers.answered(), result=result,
                                   base_version=record.version, files=files, channel=channel)
    return Received(request, request.received_version, result["status"],
                    changed_answers(record.answers, answers.answered()))


def file_text(file) -> str:
    """One kept record file in words (`triage show`): what it is, its pages and size, who added it how."""
    title = load_record_items().items[file.item].title if file.item in record_item_ids() else file.item
    kind = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}.get(file.media_type, file.media_type)
    pages = f"{file.pages} page{'s' if file.pages != 1 else ''}"
    from triage.records.uploads import added_text

    return (f"File {file.id}: {file.filename} ({title}; {kind}, {pages}, {file.size:,} bytes; {added_text(file)}; "
            f"sha256 {file.sha256[:12]})")


def request_text(request: RecordRequest) -> str:
    """One request in words, with its dates (the staff summary, `triage show`, exports)."""
    title = load_record_items().items[request.item].title if request.item in record_item_ids() else request.item
    title = title[0].upper() + title[1:]
    parts = []
    if request.requested_at:
        parts.append(f"requested {request.requested_at[:10]} from {request.source}"
                     + (f" by {request.via}" if request.via else "") + f" ({request.requested_by})")
    if request.state == RECEIVED:
        parts.append(f"received {request.closed_at[:10]} ({request.closed_by})"
                     + (f", version {request.received_version}" if request.received_version else "")
                     + (f": {request.reason}" if request.reason else ""))
    elif request.state == UNOBTAINABLE:
        parts.append(f"not obtainable {request.closed_at[:10]} ({request.closed_by}): {request.reason}")
    else:
        parts.append("waiting")
    return f"{title}: {'; '.join(parts)}"


def received_changes(get, requests: list[RecordRequest]) -> dict[int, list[dict[str, Any]]]:
    """For each version a received record made: which answers it changed ({answer, before, after}).
    ``get(version)`` reads a recorded version's answers."""
    changes: dict[int, list[dict[str, Any]]] = {}
    for request in requests:
        version = request.received_version
        if request.state == RECEIVED and version and version > 1:
            changes[version] = changed_answers(get(version - 1), get(version))
    return changes


def shown_value(value: Any) -> str:
    """An answer in a change line: levels listed ("none" for []), "not answered" for None."""
    if value is None:
        return "not answered"
    if isinstance(value, list):
        return ", ".join(value) or "none"
    return str(value)


def change_text(change: dict[str, Any]) -> str:
    return f"{change['answer']}: {shown_value(change['before'])} -> {shown_value(change['after'])}"


def changes_text(changes: list[dict[str, Any]]) -> str:
    return "; ".join(change_text(change) for change in changes)


def requests_json(requests: list[RecordRequest], changes: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [{**request.as_json(), **({"changed": changes[request.received_version]}
                                     if request.received_version in changes else {})} for request in requests]
