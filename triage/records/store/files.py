"""The files half of the records contract (issue 30): pages of a patient's records (photos, PDFs)
kept in the store itself (SQLite BLOB, PostgreSQL bytea), so a backup, a copy, a restore and
`audit verify` cover them like every answer.

Each file is added in one transaction with its audit row, whose detail holds the SHA-256 of the bytes
and of the row (``record_file_hash``): `audit verify` recomputes both, so a file changed, added or
removed by hand is found. A removed file keeps its row (who added it, when, its hash) but not its
bytes: a patient who sent the wrong photo by mistake wants it gone. Removal is refused once staff
marked the record item received (the requests half of the contract).

``RecordFiles`` is mixed into ``Store`` (core.py); the SQL is the same for both backends. The table is
SQLite schema 15 (schema.MIGRATIONS[14]) and PostgreSQL MIGRATIONS[14] (postgresql.py); ``verify_record_files`` is
one of `audit verify`'s checks (verify.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from triage.core.errors import IntakeNotFound, InvalidInput, Problem
from triage.records.uploads import MEDIA_TYPES, RECORD_ITEMS

RECORD_FILE_ADDED = "record_file_added"
RECORD_FILE_REMOVED = "record_file_removed"
RECORD_FILE_DOWNLOADED = "record_file_downloaded"  # staff downloaded a file (an access row, like "viewed")

_COLUMNS = ("id, intake_id, item, filename, media_type, size, sha256, pages, added_at, added_by, channel,"
            " removed_at")


@dataclass(frozen=True)
class RecordFile:
    """One uploaded (or scanned) file of a record item, without its bytes (``Store.record_file_data``)."""

    id: int
    intake_id: int
    item: str
    filename: str
    media_type: str
    size: int
    sha256: str
    pages: int
    added_at: str
    added_by: str
    channel: str
    removed_at: str | None = None


def record_file_hash(file_id: int, intake_id: int, item: str, filename: str, media_type: str, size: int,
                     sha256: str, pages: int, added_at: str, added_by: str, channel: str) -> str:
    """What the audit row that added a file holds of it: everything but its removal."""
    text = json.dumps({"file": file_id, "intake_id": intake_id, "item": item, "filename": filename,
                       "media_type": media_type, "size": size, "sha256": sha256, "pages": pages,
                       "added_at": added_at, "added_by": added_by, "channel": channel},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class FileNotFound(InvalidInput):
    """No such file (or it was removed)."""

    def __init__(self, file_id: int, message: str = "does not exist"):
        self.file_id = file_id
        super().__init__([Problem("", f"file {file_id} {message}")])


class RecordReceived(InvalidInput):
    """The file's record item was marked received by staff: the file is part of the record now."""

    def __init__(self, file_id: int, item: str):
        self.file_id, self.item = file_id, item
        super().__init__([Problem("", f"file {file_id}: the {item.replace('_', ' ')} was marked received; "
                                  "it can no longer be removed")])


class RecordFiles:
    """The files methods of ``Store`` (mixed in)."""

    def add_record_file(self, intake_id: int, item: str, *, filename: str, media_type: str, data: bytes,
                        pages: int, by: str, channel: str) -> RecordFile:
        """Keep one checked file (triage.records.uploads.check_upload) of ``item`` for the intake: the row and
        its audit row in one transaction (a crash leaves the file whole or absent)."""
        with self._write() as db:
            now = self._clock()
            if db.execute("SELECT 1 FROM intakes WHERE id = ?", (intake_id,)).fetchone() is None:
                raise IntakeNotFound(intake_id, f"does not exist in {self.path}")
            return self._insert_record_file(db, now, intake_id, item, filename=filename, media_type=media_type,
                                            data=data, pages=pages, by=by, channel=channel)

    def _insert_record_file(self, db, now: str, intake_id: int, item: str, *, filename: str, media_type: str,
                            data: bytes, pages: int, by: str, channel: str) -> RecordFile:
        """The row and its audit row, inside the caller's transaction (``add_record_file``, and
        ``receive_record`` keeping the scanned record with its receipt)."""
        if item not in RECORD_ITEMS:
            raise InvalidInput([Problem("item", f"{item!r} is not a record item ({', '.join(RECORD_ITEMS)})")])
        if media_type not in MEDIA_TYPES or not data or pages < 1:
            raise InvalidInput([Problem("file", "only a checked PDF, JPEG or PNG file can be kept")])
        digest = hashlib.sha256(data).hexdigest()
        file_id = self._backend.insert_id(
            db, "INSERT INTO record_files (intake_id, item, filename, media_type, size, sha256, pages, added_at,"
                " added_by, channel, data) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (intake_id, item, filename, media_type, len(data), digest, pages, now, by, channel, data))
        self._audit(db, now, by, RECORD_FILE_ADDED, intake_id, None, {
            "file": file_id, "item": item, "sha256": digest, "size": len(data), "pages": pages,
            "channel": channel,
            "record_file_sha256": record_file_hash(file_id, intake_id, item, filename, media_type, len(data),
                                                   digest, pages, now, by, channel)})
        return RecordFile(file_id, intake_id, item, filename, media_type, len(data), digest, pages, now, by, channel)

    def record_files(self, intake_id: int) -> list[RecordFile]:
        """Every file of the intake, removed ones included (``removed_at`` set), oldest first; no bytes."""
        with self._errors():
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM record_files WHERE intake_id = ? ORDER BY id",
                                    (intake_id,)).fetchall()
        return [RecordFile(*row) for row in rows]

    def record_file(self, file_id: int) -> RecordFile:
        with self._errors():
            row = self._db.execute(f"SELECT {_COLUMNS} FROM record_files WHERE id = ?", (file_id,)).fetchone()
        if row is None:
            raise FileNotFound(file_id)
        return RecordFile(*row)

    def record_file_data(self, file_id: int) -> bytes:
        """The bytes of a file (FileNotFound once removed). Checked against the SHA-256 recorded when it
        was added: bytes changed in the database are never handed out as the patient's record."""
        with self._errors():
            row = self._db.execute("SELECT data, sha256 FROM record_files WHERE id = ?", (file_id,)).fetchone()
        if row is None or row[0] is None:
            raise FileNotFound(file_id, "does not exist" if row is None else "was removed")
        data = bytes(row[0])
        if hashlib.sha256(data).hexdigest() != row[1]:
            from triage.core.errors import StoreError

            raise StoreError(f"{self.path}: file {file_id} does not match its recorded hash (changed); "
                             "run `triage audit verify`")
        return data

    def remove_record_file(self, file_id: int, *, by: str) -> RecordFile:
        """Remove a file (its bytes go; its row and hash stay): refused once its item was received."""
        with self._write() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM record_files WHERE id = ?", (file_id,)).fetchone()
            if row is None or row[-1] is not None:
                raise FileNotFound(file_id, "does not exist" if row is None else "was removed")
            found = RecordFile(*row)
            if self._record_item_received(db, found.intake_id, found.item):
                raise RecordReceived(file_id, found.item)
            now = self._clock()
            db.execute("UPDATE record_files SET removed_at = ?, removed_by = ?, data = NULL WHERE id = ?",
                       (now, by, file_id))
            self._audit(db, now, by, RECORD_FILE_REMOVED, found.intake_id, None,
                        {"file": file_id, "item": found.item, "sha256": found.sha256, "removed_at": now,
                         "removed_by": by})
        return RecordFile(*row[:-1], now)

    def _record_item_received(self, db, intake_id: int, item: str) -> bool:
        """Staff marked ``item`` received (the requests half of the contract, triage/records/store/requests.py),
        read inside this write transaction."""
        from triage.records.requests import RECEIVED

        row = db.execute("SELECT 1 FROM record_requests WHERE intake_id = ? AND item = ? AND state = ? LIMIT 1",
                         (intake_id, item, RECEIVED)).fetchone()
        return row is not None


def verify_record_files(verifier: Any, db) -> None:
    """`audit verify`: every file row matches the audit row that added it (and its bytes their
    SHA-256); a removed file was removed by an audit row; no file was added or removed by hand."""
    added: dict[int, str] = {}
    removed: dict[int, tuple[str, str]] = {}
    for file_id, action, detail in verifier.stream(
            "SELECT 0, action, detail FROM audit WHERE action IN (?, ?) ORDER BY seq",
            (RECORD_FILE_ADDED, RECORD_FILE_REMOVED)):
        try:
            fields = json.loads(detail)
            number = int(fields["file"])
        except (ValueError, TypeError, KeyError):
            verifier.problems.append(f"audit row {action}: its detail names no file (changed)")
            continue
        if action == RECORD_FILE_ADDED:
            added[number] = fields.get("record_file_sha256", "")
        else:
            removed[number] = (fields.get("removed_at"), fields.get("removed_by"))
    seen: set[int] = set()
    for row in verifier.stream(
            "SELECT id, intake_id, item, filename, media_type, size, sha256, pages, added_at, added_by, channel,"
            " removed_at, removed_by, data FROM record_files ORDER BY id"):
        file_id, removed_at, removed_by, data = row[0], row[11], row[12], row[13]
        seen.add(file_id)
        if file_id not in added:
            verifier.problems.append(f"file {file_id} of intake {row[1]}: no audit row added it (added by hand)")
            continue
        if record_file_hash(*row[:11]) != added[file_id]:
            verifier.problems.append(f"file {file_id} of intake {row[1]}: does not match the hash recorded in the "
                                     "audit log (changed)")
        if removed_at is None and (data is None or hashlib.sha256(bytes(data)).hexdigest() != row[6]):
            verifier.problems.append(f"file {file_id} of intake {row[1]}: its bytes do not match their SHA-256 "
                                     "(changed)")
        if removed_at is None and removed_by is None and file_id not in removed:
            continue
        if file_id not in removed:
            verifier.problems.append(f"file {file_id} of intake {row[1]}: removed without an audit row (by hand)")
        elif removed[file_id] != (removed_at, removed_by):
            verifier.problems.append(f"file {file_id} of intake {row[1]}: its removal does not match the audit log"
                                     + (" (still in the store)" if removed_at is None else " (changed)"))
    for file_id in sorted(set(added) - seen):
        verifier.problems.append(f"file {file_id}: added in the audit log but missing from the store (deleted)")
