"""A record received with copies of it (`triage records receive ID ITEM --file PATH...`, issue 30): each
file checked by its content with the patient uploads' rules (triage.records.uploads), kept in the store in the
same transaction as the receipt, listed by `triage show`, and exported as FHIR DocumentReferences
(`export -f fhir --records [--record-data]`) whose attachments match the bytes kept."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess

import pytest

from conftest import ROOT, run_cli
from support import hostile_files
from support.cli_store import save, show
from support.cli_store import db, sqlite_db  # noqa: F401 (fixtures)

VALIDATOR = ROOT / "tests" / "support" / "validate_fhir.cjs"


def receive_mri(intake: int, *files) -> object:
    return run_cli("records", "receive", str(intake), "current_mri", "--set", "mri_date=2026-11-30",
                   "--set", "annular_tear_levels=none", "--as-of", "2026-12-01", "--user", "cora",
                   *[part for path in files for part in ("--file", str(path))])


def stored(db: str, file_id: int) -> bytes:
    from triage.records.store import open_store

    with open_store(db) as store:
        return store.record_file_data(file_id)


def nothing_saved(intake: int) -> None:
    after = show(intake)
    assert [v["version"] for v in after["versions"]] == [1]
    assert "record_files" not in after
    assert "current_mri" in [m["id"] for m in after["result"]["missing_items"]]
    assert all(r["state"] != "received" for r in after.get("record_requests", []))


def test_a_pdf_and_a_photo_are_kept_with_the_receipt_checked_by_content(db, tmp_path):
    intake = save()
    report = hostile_files.pdf(pages=2)
    photo = hostile_files.png(text={"Comment": "taken at home"})  # metadata the re-encoding drops
    (tmp_path / "mri-report.pdf").write_bytes(report)
    (tmp_path / "page 3.png").write_bytes(photo)

    run = receive_mri(intake, tmp_path / "mri-report.pdf", tmp_path / "page 3.png")
    assert run.code == 0, run.err
    assert f"received: intake {intake} current_mri; version 2" in run.err

    files = show(intake)["record_files"]
    assert [(f["item"], f["filename"], f["media_type"], f["pages"], f["added_by"], f["channel"]) for f in files] == [
        ("current_mri", "mri-report.pdf", "application/pdf", 2, "cora", "records"),
        ("current_mri", "page 3.png", "image/png", 1, "cora", "records")]
    pdf_kept, png_kept = stored(db, files[0]["id"]), stored(db, files[1]["id"])
    assert pdf_kept == report  # a PDF is kept as sent
    assert files[0]["sha256"] == hashlib.sha256(report).hexdigest() and files[0]["size"] == len(report)
    assert png_kept != photo and b"taken at home" not in png_kept  # an image is encoded again, metadata gone
    assert png_kept.startswith(b"\x89PNG") and files[1]["sha256"] == hashlib.sha256(png_kept).hexdigest()

    text = run_cli("show", str(intake)).out
    assert "mri-report.pdf" in text and "2 pages" in text and "page 3.png" in text and "via records" in text
    verify = run_cli("audit", "verify")
    assert verify.code == 0, verify.err
    # A copy of a received record is part of the record now: it cannot be removed.
    from triage.records.store import open_store

    with open_store(db) as store, pytest.raises(Exception, match="marked received"):
        store.remove_record_file(files[0]["id"], by="cora")


def test_a_file_that_lies_about_its_type_is_refused_and_nothing_is_received(sqlite_db, tmp_path):
    intake = save()
    (tmp_path / "good.pdf").write_bytes(hostile_files.pdf())
    (tmp_path / "scan.pdf").write_bytes(hostile_files.zip_archive())  # a ZIP named .pdf
    run = receive_mri(intake, tmp_path / "good.pdf", tmp_path / "scan.pdf")
    assert run.code == 2
    assert run.err == (f"error: triage records receive: {tmp_path / 'scan.pdf'}: is not a PDF, JPEG or PNG file by "
                       "its content (whatever its name says); nothing was saved\n")
    nothing_saved(intake)


def test_a_pdf_with_javascript_is_refused_and_nothing_is_received(sqlite_db, tmp_path):
    intake = save()
    (tmp_path / "report.pdf").write_bytes(hostile_files.pdf_with_javascript())
    run = receive_mri(intake, tmp_path / "report.pdf")
    assert run.code == 2 and run.err.count("\n") == 1
    assert f"{tmp_path / 'report.pdf'}: is a PDF with scripts" in run.err
    nothing_saved(intake)


def test_a_missing_file_is_one_line_and_nothing_is_received(sqlite_db, tmp_path):
    intake = save()
    run = receive_mri(intake, tmp_path / "nowhere.pdf")
    assert run.code == 2
    assert run.err == (f"error: triage records receive: {tmp_path / 'nowhere.pdf'}: cannot be read "
                       "(no such file or directory)\n")
    nothing_saved(intake)


def test_a_refused_receipt_keeps_no_file(sqlite_db, tmp_path):
    intake = save("adjacent-tear")  # its MRI is on file already: nothing to receive
    (tmp_path / "report.pdf").write_bytes(hostile_files.pdf())
    run = receive_mri(intake, tmp_path / "report.pdf")
    assert run.code == 2 and "triage records receive" in run.err
    assert "record_files" not in show(intake)


def test_more_files_than_the_setting_are_refused_before_anything_is_written(sqlite_db, tmp_path, monkeypatch):
    intake = save()
    settings = tmp_path / "settings.toml"
    settings.write_text("upload_max_files_per_record = 1\n", encoding="utf-8")
    monkeypatch.setenv("TRIAGE_SETTINGS", str(settings))
    (tmp_path / "a.pdf").write_bytes(hostile_files.pdf())
    (tmp_path / "b.png").write_bytes(hostile_files.png())
    run = receive_mri(intake, tmp_path / "a.pdf", tmp_path / "b.png")
    assert run.code == 2 and "would hold 2 files, more than 1" in run.err, run.err
    nothing_saved(intake)
    assert receive_mri(intake, tmp_path / "a.pdf").code == 0  # one is within the setting


def _bundle(intake: int, *extra: str) -> dict:
    run = run_cli("export", str(intake), "-f", "fhir", "--records", *extra)
    assert run.code == 0, run.err
    return json.loads(run.out)


def test_the_fhir_export_has_a_document_reference_per_kept_file_data_only_when_asked(db, tmp_path):
    from fhir.resources.R4B.bundle import Bundle

    intake = save()
    report = hostile_files.pdf(pages=3)
    (tmp_path / "mri.pdf").write_bytes(report)
    (tmp_path / "photo.jpg").write_bytes(hostile_files.jpeg(gps=True))
    assert receive_mri(intake, tmp_path / "mri.pdf", tmp_path / "photo.jpg").code == 0
    files = show(intake)["record_files"]

    bundle = _bundle(intake)
    Bundle.model_validate(bundle)
    response, *documents = [entry["resource"] for entry in bundle["entry"]]
    assert response["resourceType"] == "QuestionnaireResponse" and len(documents) == 2
    for document, file in zip(documents, files):
        data = stored(db, file["id"])
        attachment = document["content"][0]["attachment"]
        assert document["resourceType"] == "DocumentReference"
        assert attachment["contentType"] == file["media_type"] and attachment["size"] == len(data) == file["size"]
        # R4 Attachment.hash: the SHA-1 of the data, base64 (the store's SHA-256 is the identifier)
        assert attachment["hash"] == base64.b64encode(hashlib.sha1(data).digest()).decode()
        assert document["identifier"][0]["value"] == (
            "ni:///sha-256;" + base64.urlsafe_b64encode(bytes.fromhex(file["sha256"])).decode().rstrip("="))
        assert attachment["title"] == file["filename"] and "data" not in attachment
        assert document["context"]["related"] == [{"reference": bundle["entry"][0]["fullUrl"]}]
    assert [d["content"][0]["attachment"]["contentType"] for d in documents] == ["application/pdf", "image/jpeg"]

    with_data = _bundle(intake, "--record-data")
    Bundle.model_validate(with_data)
    kept = [base64.b64decode(e["resource"]["content"][0]["attachment"]["data"]) for e in with_data["entry"][1:]]
    assert kept == [stored(db, f["id"]) for f in files] and kept[0] == report

    # A de-identified export never holds a file, not even as a reference.
    run = run_cli("export", str(intake), "-f", "fhir", "--deidentify")
    assert run.code == 0 and "DocumentReference" not in run.out and "mri.pdf" not in run.out
    assert run_cli("export", str(intake), "-f", "fhir", "--records", "--deidentify").code == 2


@pytest.mark.skipif(shutil.which("node") is None or not (ROOT / "node_modules" / "@medplum").exists(),
                    reason="node and node_modules (@medplum) are needed for the second FHIR validator")
def test_the_records_bundle_passes_the_second_fhir_validator(sqlite_db, tmp_path):
    intake = save()
    (tmp_path / "mri.pdf").write_bytes(hostile_files.pdf())
    (tmp_path / "photo.png").write_bytes(hostile_files.png())
    assert receive_mri(intake, tmp_path / "mri.pdf", tmp_path / "photo.png").code == 0
    out = tmp_path / "bundle.json"
    out.write_text(json.dumps(_bundle(intake, "--record-data")), encoding="utf-8")
    run = subprocess.run(["node", str(VALIDATOR), str(out)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    (result,) = json.loads(run.stdout)
    assert result["ok"], result["issues"]


def test_the_receipt_and_its_files_are_one_transaction_in_the_store(db):
    """A file the store itself refuses (after the receipt's version and request rows are written in the
    same transaction) leaves no receipt, no version and no other file behind, on both backends."""
    from types import SimpleNamespace

    from triage.core.errors import InvalidInput
    from triage.records.store import open_store

    intake = save()
    good = SimpleNamespace(filename="mri.pdf", media_type="application/pdf", data=hostile_files.pdf(), pages=1)
    bad = SimpleNamespace(filename="mri.svg", media_type="image/svg+xml", data=b"<svg/>", pages=1)
    with open_store(db) as store:
        with pytest.raises(InvalidInput, match="checked PDF"):
            store.receive_record(intake, "current_mri", by="cora", files=[good, bad])
        assert store.record_files(intake) == [] and store.record_requests(intake) == []
        assert [v.version for v in store.history(intake)] == [1]
        store.receive_record(intake, "current_mri", by="cora", files=[good])
        (kept,) = store.record_files(intake)
        assert (kept.filename, kept.channel, kept.added_by) == ("mri.pdf", "records", "cora")
    assert run_cli("audit", "verify").code == 0


def test_the_fhir_export_holds_the_patients_uploads_but_not_a_removed_one(sqlite_db):
    from triage.records.store import open_store

    intake = save()
    with open_store(sqlite_db) as store:
        wrong = store.add_record_file(intake, "surgical_report", filename="wrong.jpg", media_type="image/jpeg",
                                      data=hostile_files.jpeg(), pages=1, by="patient", channel="web")
        kept = store.add_record_file(intake, "surgical_report", filename="op-report.pdf",
                                     media_type="application/pdf", data=hostile_files.pdf(2), pages=2,
                                     by="patient", channel="web")
        store.remove_record_file(wrong.id, by="patient")
    documents = [entry["resource"] for entry in _bundle(intake, "--record-data")["entry"][1:]]
    assert [d["id"] for d in documents] == [f"intake-{intake}-record-file-{kept.id}"]
    assert documents[0]["content"][0]["attachment"]["title"] == "op-report.pdf"
    assert "2 pages" in documents[0]["description"] and "web" in documents[0]["description"]


def test_a_file_over_the_size_setting_is_refused_without_reading_it_whole(sqlite_db, tmp_path, monkeypatch):
    intake = save()
    settings = tmp_path / "settings.toml"
    settings.write_text("upload_max_file_megabytes = 1\n", encoding="utf-8")
    monkeypatch.setenv("TRIAGE_SETTINGS", str(settings))
    report = hostile_files.pdf()
    (tmp_path / "big.pdf").write_bytes(report + b"\n" * (1024 * 1024 + 1 - len(report)))  # one byte over
    run = receive_mri(intake, tmp_path / "big.pdf")
    assert run.code == 2 and "big.pdf: is larger than 1 MB (setting upload_max_file_megabytes)" in run.err
    run = receive_mri(intake, "/dev/zero")  # endless: read up to the limit, then refused
    assert run.code == 2 and "/dev/zero: is larger than 1 MB" in run.err
    nothing_saved(intake)
