"""The patient's records pages (issue 30, items 2, 5 and 6) through Flask's test client: adding photos
and PDFs of the operative report and the MRI report after sending, from the saved page and when
coming back with the code; what the patient sees (names and pages, never the files); removing a
wrong one; every hostile file refused with a plain sentence and nothing stored; a flood limited;
staff downloading as an attachment; the checklist of records to get on the done page."""

from __future__ import annotations

import html
import json
import io
import re
from pathlib import Path

import pytest

pytest.importorskip("flask")

from support import ROOT  # noqa: E402
from support import hostile_files as files  # noqa: E402
from support.web import Patient, add_staff, answer_all, errors, hidden, invite, make_app, sign_in  # noqa: E402
from support.web_fixtures import clock, store_and_app  # noqa: E402,F401 (fixtures)
from triage.records.store import open_store  # noqa: E402

NO_REPORT = {"surgical_report_available": {"answer": "no"}, "mri_available": {"answer": "no"}}


db, app = store_and_app()


def opened(app, db, language: str = "en") -> tuple[Patient, str, int]:
    code, intake_id = invite(db)
    visitor = Patient(app.test_client()).get(f"/intake/language/{language}?next=/intake/")
    visitor.post("/intake/", code=code)
    assert visitor.path == "/intake/start"
    return visitor, code, intake_id


def sent(app, db, language: str = "en") -> tuple[Patient, str, int]:
    """A patient who answered everything (no operative report, no MRI) and sent it."""
    visitor, code, intake_id = opened(app, db, language)
    visitor.get("/intake/start")
    visitor.get(re.search(r'href="(/intake/questions/[a-z_]+)"', visitor.page).group(1))
    answer_all(visitor, NO_REPORT)
    visitor.post()
    assert visitor.path == "/intake/done", visitor.path
    return visitor, code, intake_id


def upload(visitor: Patient, item: str, *sent_files: tuple[bytes, str], follow: bool = True) -> Patient:
    """Send files with the item's form, as a browser does (multipart)."""
    if visitor.path != "/intake/records":
        visitor.get("/intake/records")
    form = {"csrf_token": html.unescape(hidden(visitor.page, "csrf_token")),
            "file": [(io.BytesIO(data), name) for data, name in sent_files]}
    response = visitor.client.post(f"/intake/records/{item}", data=form, content_type="multipart/form-data")
    visitor.status = response.status_code
    if follow and response.status_code == 303:
        return visitor.get(response.headers["Location"])
    visitor.page, visitor.path = response.get_data(as_text=True), "/intake/records"
    return visitor


def kept(db, intake_id: int) -> list:
    with open_store(db) as store:
        return [f for f in store.record_files(intake_id) if f.removed_at is None]


def listed(page: str) -> list[str]:
    """What the patient reads of each file sent: its name and pages."""
    return [html.unescape(re.sub(r"<[^>]+>", "", f"{name} {pages}")).strip()
            for name, pages in re.findall(r'class="file-list__name">(.*?)</span>\s*<span class="file-list__pages">(.*?)</span>',
                                          page, re.S)]


# --- after sending -----------------------------------------------------------------------------------

def test_after_sending_the_done_page_lists_the_records_to_get_and_offers_sending_photos(app, db):
    visitor, _, _ = sent(app, db)
    text = " ".join(visitor.text.split())
    assert "Records to get for your visit" in text
    assert "Call the office of the surgeon who did your fusion." in text
    assert "Call the place where you had the MRI, such as a hospital or an imaging center." in text
    assert 'href="/intake/records"' in visitor.page and 'href="/intake/checklist"' in visitor.page


def test_a_patient_sends_a_phone_photo_and_a_pdf_and_sees_names_and_pages_only(app, db):
    visitor, _, intake_id = sent(app, db)
    photo = files.jpeg(gps=True)
    upload(visitor, "surgical_report", (photo, "IMG_2041.JPG"))
    assert visitor.status == 200 and "We added 1 file." in visitor.text
    upload(visitor, "current_mri", (files.pdf(3), "mri report.pdf"), (files.png(), "page 4.png"))
    assert "We added 2 files." in visitor.text
    assert listed(visitor.page) == ["IMG_2041.jpg 1 page", "mri report.pdf 3 pages", "page 4.png 1 page"]
    stored = kept(db, intake_id)
    assert [(f.item, f.filename, f.pages, f.by if hasattr(f, "by") else f.added_by) for f in stored] == [
        ("surgical_report", "IMG_2041.jpg", 1, "patient-web"), ("current_mri", "mri report.pdf", 3, "patient-web"),
        ("current_mri", "page 4.png", 1, "patient-web")]
    with open_store(db) as store:
        assert b"PhoneMaker" not in store.record_file_data(stored[0].id)  # the location and camera are gone
    # The patient never gets a file back: no patient page serves one.
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/intake/records")]
    assert all(rule.methods & {"GET"} == set() or rule.rule == "/intake/records" for rule in rules)


def test_a_real_sized_phone_photo_is_taken(app, db):
    """A phone's photo of a report is megabytes of detail that does not compress: the form parser once
    refused such a file over about 100 KB (413) while flat test images passed."""
    visitor, _, intake_id = sent(app, db)
    photo = files.phone_photo(3)
    assert len(photo) > 3 * 1024 * 1024
    upload(visitor, "surgical_report", (photo, "IMG_2041.jpg"))
    assert visitor.status == 200 and "We added 1 file." in visitor.text, (visitor.status, visitor.text[:500])
    assert [f.filename for f in kept(db, intake_id)] == ["IMG_2041.jpg"]


def test_a_wrong_file_can_be_removed_and_is_gone_from_the_list(app, db):
    visitor, _, intake_id = sent(app, db)
    upload(visitor, "surgical_report", (files.jpeg(), "wrong.jpg"), (files.jpeg(), "right.jpg"))
    wrong = kept(db, intake_id)[0]
    visitor.post("/intake/records/remove", {"file": str(wrong.id)})
    assert visitor.path.startswith("/intake/records") and "We removed wrong.jpg." in visitor.text
    assert listed(visitor.page) == ["right.jpg 1 page"]
    assert [f.filename for f in kept(db, intake_id)] == ["right.jpg"]


def test_a_patient_cannot_remove_another_intake_s_file(app, db):
    mine, _, _ = sent(app, db)
    other, _, other_id = opened(app, db)
    upload(other, "surgical_report", (files.jpeg(), "theirs.jpg"))
    theirs = kept(db, other_id)[0]
    mine.get("/intake/records")
    mine.post("/intake/records/remove", {"file": str(theirs.id)})
    assert mine.status == 404 and [f.id for f in kept(db, other_id)] == [theirs.id]


def test_coming_back_with_the_code_after_sending_opens_the_records_page(app, db):
    _, code, intake_id = sent(app, db)
    again = Patient(app.test_client()).open_code(code)
    assert again.path == "/intake/records"
    upload(again, "current_mri", (files.pdf(), "report.pdf"))
    assert listed(again.page) == ["report.pdf 1 page"] and len(kept(db, intake_id)) == 1
    assert "I am done" in again.text


def test_before_sending_the_saved_page_offers_the_records_page(app, db):
    visitor, _, intake_id = opened(app, db)
    visitor.get("/intake/saved")
    assert 'href="/intake/records"' in visitor.page
    upload(visitor, "surgical_report", (files.jpeg(), "op.jpg"))
    assert listed(visitor.page) == ["op.jpg 1 page"]
    assert 'href="/intake/start"' in visitor.page  # back to the questions


def test_without_a_session_nothing_can_be_sent(app, db):
    visitor = Patient(app.test_client()).get("/intake/")
    response = visitor.client.post("/intake/records/surgical_report",
                                   data={"csrf_token": html.unescape(hidden(visitor.page, "csrf_token") or ""),
                                         "file": [(io.BytesIO(files.jpeg()), "a.jpg")]},
                                   content_type="multipart/form-data")
    assert response.status_code in (303, 400) and "/intake/records" not in response.headers.get("Location", "")


# --- hostile files -----------------------------------------------------------------------------------

@pytest.mark.parametrize("data, name, sentence", [
    (files.SVG, "scan.png", "The file scan.png is not a photo or a PDF. Send a photo (JPEG or PNG) or a PDF"),
    (files.HTML, "report.pdf", "The file report.pdf is not a photo or a PDF."),
    (files.pdf() + files.zip_archive(), "two-in-one.pdf", "The file two-in-one.pdf is not a photo or a PDF."),
    (files.pdf_with_javascript(), "report.pdf",
     "We cannot take the PDF report.pdf because it has parts that run by themselves."),
    (files.locked_pdf(), "locked.pdf", "The PDF locked.pdf has a password."),
    (files.png_bomb(100_000, 100_000, rows=1), "bomb.png", "The photo bomb.png is too big."),
    (files.jpeg()[:60], "cut.jpg", "We could not open the file cut.jpg."),
    (b"", "empty.jpg", "The file empty.jpg is empty."),
    (files.jpeg(), "../../etc/\x1b[31mpasswd\u202egpj.jpg", None),  # taken: the name is only a label
])
def test_each_hostile_file_gets_a_plain_sentence_and_nothing_is_stored(app, db, data, name, sentence):
    visitor, _, intake_id = sent(app, db)
    upload(visitor, "surgical_report", (data, name))
    if sentence is None:
        assert [f.filename for f in kept(db, intake_id)] == ["[31mpasswdgpj.jpg"]  # the escape character gone, its text harmless
        return
    assert visitor.status == 400
    assert any(problem.startswith(sentence) for problem in errors(visitor.page)), errors(visitor.page)
    assert kept(db, intake_id) == []


def test_a_good_file_sent_with_a_bad_one_is_kept_and_the_bad_one_named(app, db):
    visitor, _, intake_id = sent(app, db)
    upload(visitor, "current_mri", (files.pdf(2), "good.pdf"), (files.SVG, "bad.svg"))
    assert visitor.status == 400 and "We added 1 file." in visitor.text
    assert errors(visitor.page) == ["The file bad.svg is not a photo or a PDF. Send a photo (JPEG or PNG) or a PDF"]
    assert [f.filename for f in kept(db, intake_id)] == ["good.pdf"]


def test_nothing_chosen_is_a_plain_error(app, db):
    visitor, _, _ = sent(app, db)
    upload(visitor, "surgical_report")
    assert visitor.status == 400 and errors(visitor.page) == ["Choose a photo or a PDF to send"]


def test_a_record_item_that_does_not_exist_is_not_found(app, db):
    visitor, _, _ = sent(app, db)
    assert upload(visitor, "fused_levels", (files.jpeg(), "a.jpg")).status == 404


def settings_with(tmp_path, **values) -> Path:
    text = (ROOT / "settings" / "default.toml").read_text()
    for key, value in values.items():
        text = re.sub(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
    path = tmp_path / "clinic.toml"
    path.write_text(text)
    return path


def test_the_count_limit_per_record_is_a_boundary(db, clock, tmp_path):
    app = make_app(db, clock=clock, settings_path=settings_with(tmp_path, upload_max_files_per_record=2))
    visitor, _, intake_id = sent(app, db)
    upload(visitor, "surgical_report", (files.jpeg(), "1.jpg"), (files.jpeg(), "2.jpg"))
    assert visitor.status == 200 and len(kept(db, intake_id)) == 2
    upload(visitor, "surgical_report", (files.jpeg(), "3.jpg"))
    assert errors(visitor.page) == ["You sent 2 files for this report. That is the most you can send. "
                                    "Remove one to send another"]
    assert len(kept(db, intake_id)) == 2
    upload(visitor, "current_mri", (files.pdf(), "mri.pdf"))  # another record has its own count
    assert visitor.status == 200


def test_a_request_bigger_than_the_settings_allow_gets_the_page_again_saying_so(db, clock, tmp_path):
    app = make_app(db, clock=clock, settings_path=settings_with(tmp_path, upload_max_file_megabytes=1,
                                                                 upload_max_files_per_record=1))
    visitor, _, intake_id = sent(app, db)
    upload(visitor, "surgical_report", (b"%PDF-1.7\n" + b"0" * (3 * 1024 * 1024), "huge.pdf"))
    assert visitor.status == 413
    assert errors(visitor.page) == ["Those files were too big to send together. Send fewer at a time. "
                                    "Each one must be under 1 MB"]
    upload(visitor, "surgical_report", (b"%PDF-1.7\n" + b"0" * (1024 * 1024), "big.pdf"))  # under the request limit
    assert visitor.status == 400 and errors(visitor.page)[0].startswith("The file big.pdf is too big.")
    assert kept(db, intake_id) == []


def test_a_flood_of_uploads_is_limited_per_intake_and_audited_once(app, db, clock):
    visitor, _, intake_id = sent(app, db)
    for _ in range(30):
        upload(visitor, "surgical_report", (files.SVG, "x.svg"))
        assert visitor.status == 400
    upload(visitor, "surgical_report", (files.jpeg(), "good.jpg"))
    assert errors(visitor.page) == ["You sent many files in a short time. Please wait 15 minutes, then try again"]
    upload(visitor, "surgical_report", (files.jpeg(), "good.jpg"))
    assert kept(db, intake_id) == []
    with open_store(db) as store:
        rows = store._db.execute("SELECT detail FROM audit WHERE action = 'upload_throttled'").fetchall()
    assert len(rows) == 1 and json.loads(rows[0][0])["limit"] == "intake"
    clock.advance(15 * 60 - clock.now % (15 * 60) + 1)  # the next window (before the session's idle end)
    upload(visitor, "surgical_report", (files.jpeg(), "good.jpg"))
    assert visitor.status == 200 and len(kept(db, intake_id)) == 1


# --- both languages, the kiosk -----------------------------------------------------------------------

def test_the_records_page_and_its_errors_are_in_spanish(app, db):
    visitor, _, _ = sent(app, db, language="es")
    assert "Informes para su cita" in visitor.text and "Llame a la oficina del cirujano" in visitor.text
    upload(visitor, "surgical_report", (files.SVG, "foto.png"))
    assert "Envíe fotos de sus informes" in visitor.text
    assert errors(visitor.page) == ["El archivo foto.png no es una foto ni un PDF. Envíe una foto (JPEG o PNG) o un PDF"]
    upload(visitor, "surgical_report", (files.jpeg(), "foto.jpg"))
    assert "Agregamos 1 archivo." in visitor.text and listed(visitor.page) == ["foto.jpg 1 página"]


def test_the_reception_tablet_offers_sending_from_the_patient_s_own_phone(db, clock):
    app = make_app(db, clock=clock, kiosk=True)
    visitor = Patient(app.test_client()).get("/intake/")
    visitor.post("/intake/new")
    visitor.get("/intake/start")
    visitor.get(re.search(r'href="(/intake/questions/[a-z_]+)"', visitor.page).group(1))
    answer_all(visitor, NO_REPORT)
    visitor.post()
    assert visitor.path == "/intake/done"
    assert "from your own phone later" in visitor.text and 'href="/intake/records"' not in visitor.page


# --- the printable checklist -------------------------------------------------------------------------

def test_the_checklist_page_lists_only_the_records_still_missing(app, db):
    visitor, _, _ = opened(app, db)
    visitor.get("/intake/checklist")
    assert "The report from your fusion surgery" in visitor.text and "The report of an MRI" in visitor.text
    assert "data-print hidden" in visitor.page  # without the script, no button that would do nothing
    visitor, _, _ = sent(app, db)
    assert visitor.get("/intake/checklist").status == 200
    assert "Print this list" in sent(app, db)[0].text


# --- staff -------------------------------------------------------------------------------------------

def test_staff_download_a_file_as_an_attachment_that_nothing_can_run(app, db):
    visitor, _, intake_id = sent(app, db)
    upload(visitor, "current_mri", (files.pdf(2), "mri report.pdf"))
    stored = kept(db, intake_id)[0]
    add_staff(db, "clin1", "clinician")
    staff = sign_in(app.test_client(), "clin1")
    staff.get(f"/staff/intakes/{intake_id}")
    assert "Files of the records" in staff.page and "mri report.pdf" in staff.page and "2 pages" in staff.page
    assert "sent by the patient" in staff.page and "added by" not in staff.page
    link = f"/staff/intakes/{intake_id}/files/{stored.id}"
    assert f'href="{link}"' in staff.page
    response = staff.client.get(link)
    assert response.status_code == 200 and response.data == files.pdf(2) or response.data[:5] == b"%PDF-"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "mri report.pdf" in response.headers["Content-Disposition"] or "mri%20report.pdf" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    with open_store(db) as store:
        rows = store._db.execute("SELECT \"user\", intake_id FROM access_log WHERE action = 'record_file_downloaded'").fetchall()
    assert rows == [("clin1", intake_id)]
    # Another intake's path, and a patient's session, get nothing.
    assert staff.client.get(f"/staff/intakes/{intake_id + 1}/files/{stored.id}").status_code == 404
    patient_get = visitor.client.get(link)
    assert patient_get.status_code == 303 and "/staff/sign-in" in patient_get.headers["Location"]


def test_once_staff_received_the_record_the_patient_cannot_remove_its_files(app, db):
    visitor, _, intake_id = sent(app, db)
    upload(visitor, "surgical_report", (files.jpeg(), "op.jpg"))
    with open_store(db) as store:
        store.receive_record(intake_id, "surgical_report", by="cora")
    visitor.get("/intake/records")
    assert "The clinic team has this report now." in visitor.text
    assert 'action="/intake/records/remove"' not in visitor.page  # no Remove button
    forged = visitor.post("/intake/records/remove", {"file": str(kept(db, intake_id)[0].id)})
    assert forged.status == 409 and errors(forged.page) == [
        "The clinic team has this report now, so op.jpg cannot be removed. To change it, call the clinic"]
    assert len(kept(db, intake_id)) == 1


def test_a_sent_photo_and_pdf_are_kept_and_removed_on_each_backend(store_location, clock):
    """The same pages on an SQLite file and on a PostgreSQL store (BLOB / bytea)."""
    app = make_app(store_location, clock=clock)
    visitor, _, intake_id = sent(app, store_location)
    photo, report = files.jpeg(gps=True), files.pdf(2)
    upload(visitor, "surgical_report", (photo, "op.jpg"))
    upload(visitor, "current_mri", (report, "mri.pdf"))
    assert listed(visitor.page) == ["op.jpg 1 page", "mri.pdf 2 pages"]
    stored = kept(store_location, intake_id)
    with open_store(store_location) as store:
        assert store.record_file_data(stored[1].id) == report
        assert b"PhoneMaker" not in store.record_file_data(stored[0].id)
    visitor.post("/intake/records/remove", {"file": str(stored[0].id)})
    assert listed(visitor.page) == ["mri.pdf 2 pages"]
    with open_store(store_location) as store:
        assert store.verify_audit().ok
