"""The files half of the records contract (issue 30): a patient's uploaded pages kept in the store
on both backends, their SHA-256 in the audit chain (`audit verify` finds a file changed, added or
removed by hand), removal refused once staff received the record, and never in a de-identified
export."""

from __future__ import annotations

import hashlib
import json

import pytest

from conftest import run_cli
from support import hostile_files as files
from support.postgres import Raw
from triage.core.errors import InvalidInput, StoreError
from triage.records.store import open_store

RESULT = {"status": "records_needed", "red_flags": [], "missing_items": [{"id": "surgical_report"}],
          "physician_consult": {"recommended": True, "urgency": "routine"}}


@pytest.fixture
def store_with_intake(store_location):
    with open_store(store_location) as store:
        store.save_draft({"patient_id": "PT-1"}, user="patient-web")
    return store_location


def _add(store, item="surgical_report", data=None, name="page 1.jpg", media_type="image/jpeg"):
    data = data if data is not None else files.jpeg()
    return store.add_record_file(1, item, filename=name, media_type=media_type, data=data, pages=1,
                                 by="patient-web", channel="web")


def test_a_file_is_kept_with_its_hash_and_listed_without_its_bytes(store_with_intake):
    with open_store(store_with_intake) as store:
        photo = files.jpeg()
        added = _add(store, data=photo)
        pdf = store.add_record_file(1, "current_mri", filename="mri.pdf", media_type="application/pdf",
                                    data=files.pdf(2), pages=2, by="patient-web", channel="web")
        listed = store.record_files(1)
        assert [f.id for f in listed] == [added.id, pdf.id]
        assert listed[0].sha256 == hashlib.sha256(photo).hexdigest() and listed[0].size == len(photo)
        assert (listed[1].item, listed[1].pages, listed[1].removed_at) == ("current_mri", 2, None)
        assert not hasattr(listed[0], "data")
        assert store.record_file_data(added.id) == photo
        audit = [json.loads(row[1]) for row in store._db.execute(
            "SELECT action, detail FROM audit WHERE action = 'record_file_added' ORDER BY seq").fetchall()]
        assert [row["sha256"] for row in audit] == [added.sha256, pdf.sha256]
    assert run_cli("audit", "verify", "--db", str(store_with_intake)).code == 0


def test_a_removed_file_loses_its_bytes_and_keeps_its_row(store_with_intake):
    with open_store(store_with_intake) as store:
        added = _add(store)
        removed = store.remove_record_file(added.id, by="patient-web")
        assert removed.removed_at is not None
        assert store.record_files(1)[0].removed_at == removed.removed_at
        with pytest.raises(InvalidInput, match="was removed"):
            store.record_file_data(added.id)
        with pytest.raises(InvalidInput, match="was removed"):
            store.remove_record_file(added.id, by="patient-web")
    assert run_cli("audit", "verify", "--db", str(store_with_intake)).code == 0


def test_a_file_for_another_item_or_intake_or_unchecked_is_refused(store_with_intake):
    with open_store(store_with_intake) as store:
        with pytest.raises(InvalidInput, match="not a record item"):
            _add(store, item="fused_levels")
        with pytest.raises(InvalidInput, match="intake 9 does not exist"):
            store.add_record_file(9, "current_mri", filename="a.pdf", media_type="application/pdf",
                                  data=files.pdf(), pages=1, by="x", channel="web")
        with pytest.raises(InvalidInput, match="checked PDF"):
            _add(store, media_type="image/svg+xml", data=files.SVG)
        assert store.record_files(1) == []


def test_removal_is_refused_once_the_record_is_received(store_location, answers_file):
    assert run_cli("assess", answers_file({"patient_id": "PT-1", "surgical_report_available": "no",
                                           "mri_available": "no"}), "--save", "--db", str(store_location)).code == 0
    with open_store(store_location) as store:
        received, other = _add(store), _add(store, item="current_mri")
        store.receive_record(1, "surgical_report", by="coord1")
        with pytest.raises(InvalidInput, match="the surgical report was marked received"):
            store.remove_record_file(received.id, by="patient-web")
        assert store.record_file_data(received.id)
        assert store.remove_record_file(other.id, by="patient-web").removed_at  # not received: removable
    assert run_cli("audit", "verify", "--db", str(store_location)).code == 0


@pytest.mark.parametrize("statement, named", [
    ("UPDATE record_files SET filename = 'other.jpg'", "file 1 of intake 1: does not match the hash"),
    ("UPDATE record_files SET data = ?", "file 1 of intake 1: its bytes do not match"),
    ("DELETE FROM record_files", "file 1: added in the audit log but missing"),
    ("INSERT INTO record_files (intake_id, item, filename, media_type, size, sha256, pages, added_at, added_by,"
     " channel, data) SELECT intake_id, item, 'x.jpg', media_type, size, sha256, pages, added_at, added_by,"
     " channel, data FROM record_files", "file 2 of intake 1: no audit row added it"),
    ("UPDATE record_files SET removed_at = '2026-01-01T00:00:00Z', removed_by = 'm', data = NULL",
     "file 1 of intake 1: removed without an audit row"),
])
def test_audit_verify_finds_a_file_changed_added_or_removed_by_hand(store_with_intake, statement, named):
    with open_store(store_with_intake) as store:
        _add(store)
    with Raw(store_with_intake) as raw:
        raw.drop_guards()
        raw.execute(statement, (b"forged bytes",) if "?" in statement else ())
    verified = run_cli("audit", "verify", "--db", str(store_with_intake))
    assert verified.code == 7 and named in verified.err, verified.err


def test_changed_bytes_are_never_handed_out(store_with_intake):
    with open_store(store_with_intake) as store:
        added = _add(store)
    with Raw(store_with_intake) as raw:
        raw.drop_guards()
        raw.execute("UPDATE record_files SET data = ?", (b"forged bytes",))
    with open_store(store_with_intake) as store, pytest.raises(StoreError, match="does not match its recorded hash"):
        store.record_file_data(added.id)


def test_a_deidentified_export_never_includes_a_file(store_location, answers_file):
    assert run_cli("assess", answers_file({"patient_id": "PT-7", "surgical_report_available": "no"}), "--save",
                   "--db", str(store_location)).code == 0
    photo = files.jpeg()
    with open_store(store_location) as store:
        added = store.add_record_file(1, "surgical_report", filename="Smith operative report.jpg",
                                      media_type="image/jpeg", data=photo, pages=1, by="patient-web", channel="web")
    for form in ("json", "markdown", "html", "fhir"):
        exported = run_cli("export", "1", "-f", form, "--deidentify", "--db", str(store_location))
        assert exported.code == 0, exported.err
        assert "Smith" not in exported.out and added.sha256 not in exported.out
        assert "operative report.jpg" not in exported.out
