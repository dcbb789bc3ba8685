"""The coordinator's record requests (issue 30; triage.records.requests): a missing record item requested (from
whom, how, when), then received (naming the version its answers made) or marked not obtainable (why).
Mixed into ``Store``; portable SQL. Each change is an audit row carrying the request's hash after it
(``request_hash``); `audit verify` checks each row against the last (``verify_record_requests``)."""

from __future__ import annotations

import json
from typing import Any, Sequence

from triage.core.errors import Conflict, IntakeNotFound, RecordRequestClosed
from triage.records.requests import RECEIVED, REQUESTED, UNOBTAINABLE, RecordRequest
from triage.records.store.audit import canonical, sha256

RECORD_REQUESTED, RECORD_RECEIVED, RECORD_UNOBTAINABLE = "record_requested", "record_received", "record_unobtainable"
REQUEST_COLUMNS = ("id, intake_id, item, state, source, via, requested_at, requested_by, closed_at, closed_by, reason,"
                   " received_version")


def request_hash(request: RecordRequest) -> str:
    """A record request is closed in place (received, not obtainable), so every audit row about it
    carries this hash of its state right after, and `audit verify` checks the row against the last."""
    return sha256(canonical({"record_request": vars(request)}))


class RecordRequests:
    """The requests half of the records store contract (the files half: helper uploads')."""

    def _require_missing(self, db, intake_id: int, item: str, result: dict[str, Any], version: int) -> None:
        """RecordNotMissing (naming an earlier receipt, if any) unless ``item`` is missing in ``result``."""
        from triage.records.requests import last_received, missing_records, require_missing

        if item not in missing_records(result):
            require_missing(intake_id, item, result, version,
                            last_received(self._request_rows(db, "intake_id = ?", (intake_id,)), item))

    def _record_result(self, db, intake_id: int) -> tuple[int, dict[str, Any]]:
        """(latest version, its result) of an intake that has one; IntakeNotFound otherwise."""
        latest = self._latest_version(db, intake_id)
        if latest == 0:
            raise IntakeNotFound(intake_id, "has no recorded assessment yet, only a draft in progress")
        text = db.execute("SELECT result FROM versions WHERE intake_id = ? AND version = ?",
                          (intake_id, latest)).fetchone()[0]
        return latest, json.loads(text)

    def _request_rows(self, db, where: str, params: tuple) -> list[RecordRequest]:
        return [RecordRequest(*row) for row in db.execute(
            f"SELECT {REQUEST_COLUMNS} FROM record_requests WHERE {where} ORDER BY id", params).fetchall()]

    def _audit_request(self, db, now: str, user: str, action: str, request: RecordRequest,
                       version: int | None = None) -> None:
        self._audit(db, now, user, action, request.intake_id, version,
                    {"request": request.id, "item": request.item, "state": request.state,
                     "request_sha256": request_hash(request)})

    def request_record(self, intake_id: int, item: str, *, source: str, via: str | None, by: str) -> RecordRequest:
        """Record that a missing record item was requested (from whom, how; now). Refused when the item
        is not missing in the intake's latest version (RecordNotMissing)."""
        from triage.records.requests import check_item, check_text, check_via

        item, source = check_item(item), check_text("from", source)
        via = None if via is None else check_via(via)
        with self._write() as db:
            now = self._clock()
            latest, result = self._record_result(db, intake_id)
            self._require_missing(db, intake_id, item, result, latest)
            request_id = self._backend.insert_id(
                db, "INSERT INTO record_requests (intake_id, item, state, source, via, requested_at, requested_by)"
                " VALUES (?,?,?,?,?,?,?)", (intake_id, item, REQUESTED, source, via, now, by))
            request = RecordRequest(request_id, intake_id, item, REQUESTED, source, via, now, by)
            self._audit_request(db, now, by, RECORD_REQUESTED, request)
        return request

    def _close_requests(self, db, now: str, by: str, intake_id: int, item: str, state: str, action: str,
                        reason: str | None, version: int | None) -> RecordRequest:
        """Close the item's open requests (received or not obtainable); with none open, a closed row of its
        own (a record brought in, or given up on, without an earlier request). Returns the last."""
        open_ = self._request_rows(db, "intake_id = ? AND item = ? AND state = ?", (intake_id, item, REQUESTED))
        if not open_:
            request_id = self._backend.insert_id(
                db, "INSERT INTO record_requests (intake_id, item, state) VALUES (?,?,?)", (intake_id, item, state))
            open_ = [RecordRequest(request_id, intake_id, item, state, None, None, None, None)]
        closed = []
        for request in open_:
            db.execute("UPDATE record_requests SET state = ?, closed_at = ?, closed_by = ?, reason = ?,"
                       " received_version = ? WHERE id = ?", (state, now, by, reason, version, request.id))
            done = RecordRequest(request.id, intake_id, item, state, request.source, request.via, request.requested_at,
                                 request.requested_by, now, by, reason, version)
            self._audit_request(db, now, by, action, done, version)
            closed.append(done)
        return closed[-1]

    def receive_record(self, intake_id: int, item: str, *, by: str, note: str | None = None,
                       answers: dict[str, Any] | None = None, result: dict[str, Any] | None = None,
                       base_version: int | None = None, files: Sequence[Any] = (),
                       channel: str = "records") -> RecordRequest:
        """Mark a missing record item received. With ``answers`` and ``result`` (triage.records.requests.receive:
        the latest answers plus what the record says, triaged again), the same transaction records them
        as a new version, channel ``records``, and the request names that version; nothing is written
        when another version was recorded since ``base_version`` or a draft is in progress (Conflict).
        ``files``: copies of the record (triage.records.uploads.CheckedFile: filename, media_type, data, pages),
        kept (``channel``) in the same transaction, so a refused receipt keeps none and a kept file is
        never left without its receipt."""
        from triage.records.requests import RECORDS_SOURCE, check_item

        item = check_item(item)
        with self._write() as db:
            now = self._clock()
            latest, current = self._record_result(db, intake_id)
            if base_version is not None and latest != base_version:
                raise Conflict(f"intake {intake_id}: version {latest} was recorded since version {base_version}, "
                               f"which this change is based on; nothing was saved. Check `triage show {intake_id}` "
                               "and receive it again")
            self._require_missing(db, intake_id, item, current, latest)
            version = None
            if answers is not None and result is not None:
                draft = db.execute("SELECT saved_at, saved_by FROM drafts WHERE intake_id = ?", (intake_id,)).fetchone()
                if draft is not None:
                    raise Conflict(f"intake {intake_id} has a draft in progress (saved {draft[0]} by {draft[1]}); "
                                   "nothing was saved. Finish it or discard it, then receive the record")
                version = latest + 1
                self._insert_version(db, now, by, intake_id, version, RECORDS_SOURCE, answers, result)
            closed = self._close_requests(db, now, by, intake_id, item, RECEIVED, RECORD_RECEIVED, note, version)
            for file in files:
                self._insert_record_file(db, now, intake_id, item, filename=file.filename,
                                         media_type=file.media_type, data=file.data, pages=file.pages, by=by,
                                         channel=channel)
            return closed

    def record_unobtainable(self, intake_id: int, item: str, *, reason: str, by: str) -> RecordRequest:
        """Mark a missing record item as not obtainable, with the reason. The triage is unchanged (the item
        stays missing: the rules decide); refused when already marked so with no request since."""
        from triage.records.requests import check_item, check_text

        item, reason = check_item(item), check_text("reason", reason)
        with self._write() as db:
            now = self._clock()
            latest, result = self._record_result(db, intake_id)
            self._require_missing(db, intake_id, item, result, latest)
            last = db.execute("SELECT state, closed_at FROM record_requests WHERE intake_id = ? AND item = ?"
                              " ORDER BY id DESC LIMIT 1", (intake_id, item)).fetchone()
            if last is not None and last[0] == UNOBTAINABLE:
                raise RecordRequestClosed(intake_id, item, f"is already marked not obtainable ({last[1][:10]}); "
                                          "request it again first if it can be had after all")
            return self._close_requests(db, now, by, intake_id, item, UNOBTAINABLE, RECORD_UNOBTAINABLE, reason, None)

    def record_requests(self, intake_id: int | None = None, *, overdue_after_days: int | None = None,
                        intake_ids: list[int] | None = None, limit: int | None = None) -> list[RecordRequest]:
        """Record requests (of one intake, of ``intake_ids``, or all): open ones first, oldest request
        first (so the most overdue lead), then closed ones, most recently closed first.
        ``overdue_after_days``: only open requests older than that. ``limit``: at most that many (a
        staff page reads a page's worth, whatever the backlog)."""
        from triage.records.requests import overdue_before

        where, params = ["1 = 1"], []
        if intake_id is not None:
            where.append("intake_id = ?")
            params.append(intake_id)
        if intake_ids is not None:
            where.append(f"intake_id IN ({', '.join('?' * len(intake_ids)) or 'NULL'})")
            params += list(intake_ids)
        if overdue_after_days is not None:
            where.append("state = ? AND requested_at < ?")
            params += [REQUESTED, overdue_before(self._clock(), overdue_after_days)]
        with self._errors():
            if intake_id is not None:
                self._latest_version(self._db, intake_id)  # IntakeNotFound for an unknown intake
            rows = self._db.execute(
                f"SELECT {REQUEST_COLUMNS} FROM record_requests WHERE {' AND '.join(where)}"
                " ORDER BY CASE WHEN state = 'requested' THEN 0 ELSE 1 END,"
                " CASE WHEN state = 'requested' THEN requested_at END, CASE WHEN state = 'requested' THEN id END,"
                " closed_at DESC, id DESC" + (f" LIMIT {int(limit)}" if limit is not None else ""),
                tuple(params)).fetchall()
        return [RecordRequest(*row) for row in rows]

    def count_overdue_requests(self, overdue_after_days: int) -> int:
        """How many open requests are older than ``overdue_after_days`` (the open requests' index)."""
        from triage.records.requests import overdue_before

        with self._errors():
            return int(self._db.execute("SELECT COUNT(*) FROM record_requests WHERE state = ? AND requested_at < ?",
                                        (REQUESTED, overdue_before(self._clock(), overdue_after_days))).fetchone()[0])


def verify_record_requests(verifier: Any, db) -> None:
    """Each record request as the last audit row about it left it; none that no audit row made; none
    audited and missing (``verifier.request_hashes``: request id -> its last hash, gathered from the chain)."""
    seen = set()
    for row in verifier.stream(f"SELECT {REQUEST_COLUMNS} FROM record_requests ORDER BY id"):
        request = RecordRequest(*row)
        seen.add(request.id)
        audited = verifier.request_hashes.get(request.id)
        where = f"record request {request.id} (intake {request.intake_id}, {request.item})"
        if audited is None:
            verifier.problems.append(f"{where}: no audit row made it (added by hand)")
        elif audited != request_hash(request):
            verifier.problems.append(f"{where}: does not match the audit log (changed)")
    for request_id in sorted(set(verifier.request_hashes) - seen):
        verifier.problems.append(f"record request {request_id}: in the audit log but missing from the store (removed)")
