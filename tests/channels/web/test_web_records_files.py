"""Copies of a record attached on the staff records page (the gap after issue 30: the receive form had
no file input, so a coordinator holding a scan had to use `triage records receive --file`). Through
Flask's test client: a PDF and a JPEG kept with the receipt, in its transaction, channel staff, added
by the coordinator, with their SHA-256 in the audit; every refusal (the same checks as the terminal's
and the patient's, boundary pairs for the size and the count) keeps what was typed and records
nothing; forged forms refused; a body over the limits a plain page (the app's and waitress's)."""

from __future__ import annotations

import hashlib
import html
import http.client
import io
import json
import re
from pathlib import Path

import pytest

pytest.importorskip("flask")

from conftest import ROOT, run_cli  # noqa: E402
from support import hostile_files as files  # noqa: E402
from support.web import errors, hidden, log_rows, make_app, sign_in  # noqa: E402
from support.web_fixtures import STAFF, clock, store_and_app  # noqa: E402,F401 (fixtures)
from triage.records.store import open_store  # noqa: E402

EXAMPLE = ROOT / "examples" / "records-missing.json"  # operative report, fused levels and MRI missing
PAGE = "/staff/intakes/1/records/surgical_report"
RECEIVE = PAGE + "/receive"
TYPED = {"base_version": "1", "fused_levels": "L4-5", "fusion_date": "2024-03", "note": "faxed by Dr Lee"}
MB = 1024 * 1024

db, app = store_and_app(staff=STAFF)


@pytest.fixture(autouse=True)
def _intake(db) -> None:
    """Intake 1: the shipped example with its operative report and MRI missing."""
    run = run_cli("assess", str(EXAMPLE), "--save", "--db", str(db), "--user", "alice", "-f", "json")
    assert run.code == 0, run.err


def settings_with(tmp_path, **values) -> Path:
    text = (ROOT / "settings" / "default.toml").read_text()
    for key, value in values.items():
        text, count = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
        assert count == 1, key
    path = tmp_path / "clinic.toml"
    path.write_text(text)
    return path


def receive(staff, *sent: tuple[bytes, str], fields: dict | None = None, token: str | None = None):
    """The receive form as a browser sends it (multipart), from the record's page; the response."""
    staff.get(PAGE)
    form = {"csrf_token": html.unescape(hidden(staff.page, "csrf_token")) if token is None else token,
            **(TYPED if fields is None else fields), "file": [(io.BytesIO(data), name) for data, name in sent]}
    response = staff.client.post(RECEIVE, data=form, content_type="multipart/form-data")
    staff.status = response.status_code
    staff.page = response.get_data(as_text=True)
    return response


def state(db) -> tuple:
    """What a refused form must leave as it was: versions, requests, files, audit rows."""
    with open_store(db) as store:
        versions, requests, kept = store.get(1).version, store.record_requests(1), store.record_files(1)
    return versions, requests, kept, [row for row in log_rows(db, "action, intake_id") if row[1]]  # not sign-ins


def pdf_of_size(size: int) -> bytes:
    """A real PDF of exactly ``size`` bytes (a metadata string pads it)."""
    from pypdf import PdfWriter

    def build(padding: int) -> bytes:
        writer = PdfWriter()
        writer.add_blank_page(width=595, height=842)
        writer.add_metadata({"/Padding": "x" * padding})
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()

    padding = size - len(build(0))
    while len(data := build(padding)) != size:  # the offsets' digits grow with the padding
        padding += size - len(data)
    return data


def test_a_real_sized_scan_is_kept_with_the_receipt(app, db):
    """Megabytes of detail that does not compress, as a scanner or a phone makes (the form parser once
    refused such a file over about 100 KB with a 413)."""
    staff = sign_in(app.test_client(), "cora")
    receive(staff, (files.phone_photo(3), "scan-0001.jpg"))
    assert staff.status == 303, (staff.status, errors(staff.page))
    with open_store(db) as store:
        assert [f.filename for f in store.record_files(1)] == ["scan-0001.jpg"]


def test_a_pdf_and_a_jpeg_attached_with_the_receipt_are_kept_with_it_and_listed_as_added_by_cora(app, db):
    staff = sign_in(app.test_client(), "cora")
    staff.get(PAGE)
    form = re.search(r'<form [^>]*action="/staff/intakes/1/records/surgical_report/receive"[^>]*>', staff.page).group(0)
    assert 'enctype="multipart/form-data"' in form
    field = re.search(r'<input [^>]*type="file"[^>]*>', staff.page).group(0)
    assert 'name="file"' in field and " multiple" in field and 'accept="application/pdf,image/jpeg,image/png"' in field
    assert 'aria-describedby="file-hint"' in field and '<label class="label" for="file">' in staff.page
    # The hint's numbers are the settings' (defaults: 10 MB, 50 pages, 10 files).
    assert ("Each file up to 10 MB, a PDF up to 50 pages. This record can hold 10 files in all, counting any the "
            "patient sent; it has 0 now") in staff.page

    scan, photo = files.pdf(2), files.jpeg(gps=True)
    response = receive(staff, (scan, "operative report.pdf"), (photo, "page 3.jpg"))
    assert response.status_code == 303 and response.headers["Location"].endswith("/staff/intakes/1")
    with open_store(db) as store:
        record = store.get(1)
        kept = store.record_files(1)
        data = {f.id: store.record_file_data(f.id) for f in kept}
    audit = log_rows(db, "action, detail")
    rows = [json.loads(detail) for action, detail in audit if action == "record_file_added"]
    received = sum(1 for action, _ in audit if action == "record_received")
    assert (record.version, record.source) == (2, "records") and record.answers["fused_levels"] == ["L4-L5"]
    assert [(f.filename, f.media_type, f.pages, f.channel, f.added_by) for f in kept] == [
        ("operative report.pdf", "application/pdf", 2, "staff", "cora"), ("page 3.jpg", "image/jpeg", 1, "staff", "cora")]
    assert data[kept[0].id] == scan  # a PDF is kept as sent; a photo encoded again without its location
    assert data[kept[1].id][:2] == b"\xff\xd8" and b"PhoneMaker" not in data[kept[1].id]
    assert [row["sha256"] for row in rows] == [hashlib.sha256(data[f.id]).hexdigest() for f in kept]
    assert [row["channel"] for row in rows] == ["staff", "staff"] and received == 1

    staff.get("/staff/intakes/1")
    listed = re.search(r'<ul class="case__list" id="record-files">(.*?)</ul>', staff.page, re.S).group(1)
    assert "Files of the records" in staff.page and "Files the patient sent" not in staff.page
    assert listed.count("added by cora") == 2 and "sent by the patient" not in listed
    show = run_cli("show", "1", "--db", str(db))
    assert show.code == 0 and " ".join(show.out.split()).count("by cora via the staff pages") == 2, show.out
    assert run_cli("audit", "verify", "--db", str(db)).code == 0


def test_a_patients_file_and_a_staff_file_say_who_added_each(app, db):
    with open_store(db) as store:
        store.add_record_file(1, "current_mri", filename="mri.pdf", media_type="application/pdf", data=files.pdf(),
                              pages=1, by="patient-web", channel="web")
    staff = sign_in(app.test_client(), "cora")
    receive(staff, (files.pdf(), "report.pdf"))
    staff.get("/staff/intakes/1")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", staff.page))
    assert re.search(r"MRI report: mri\.pdf \(1 page, \d+ KB, application/pdf, sent by the patient, 20", text), text
    assert re.search(r"Operative report: report\.pdf \(1 page, \d+ KB, application/pdf, added by cora, 20", text), text
    show = " ".join(run_cli("show", "1", "--db", str(db)).out.split())  # lines folded to the width
    assert "by the patient via the patient pages" in show and "by cora via the staff pages" in show
    # A de-identified export has no files and no names, as before.
    plain = run_cli("export", "1", "--deidentify", "-f", "json", "--db", str(db))
    assert plain.code == 0 and "record_files" not in plain.out and "cora" not in plain.out


def test_receiving_without_a_file_is_as_before(app, db):
    """An empty file input still sends one nameless, empty part: not a file, nothing refused."""
    staff = sign_in(app.test_client(), "cora")
    response = receive(staff, (b"", ""))
    assert response.status_code == 303
    with open_store(db) as store:
        assert store.get(1).version == 2 and store.record_files(1) == []


REFUSALS = [  # (file, its name, the error line)
    (b"", "empty.pdf", "empty.pdf is empty"),
    (files.zip_archive(), "report.pdf", "report.pdf is not a PDF, JPEG or PNG file by its content (whatever its name says)"),
    (files.HTML, "scan.png", "scan.png is not a PDF, JPEG or PNG file by its content (whatever its name says)"),
    (files.pdf_with_javascript(), "op.pdf",
     "op.pdf is a PDF with scripts, actions or attached files; print it to a new PDF or scan it"),
    (files.locked_pdf(), "locked.pdf", "locked.pdf is a PDF locked with a password; save a copy without the password"),
    (files.pdf()[:200], "cut.pdf", "cut.pdf cannot be read as the PDF, JPEG or PNG file it starts as (damaged or cut short)"),
]


@pytest.mark.parametrize("data, name, line", REFUSALS, ids=[r[1] for r in REFUSALS])
def test_a_refused_file_comes_back_with_what_was_typed_and_nothing_is_recorded(app, db, data, name, line):
    staff = sign_in(app.test_client(), "cora")
    before = state(db)
    receive(staff, (files.pdf(), "good.pdf"), (data, name))
    assert staff.status == 400
    assert errors(staff.page) == [line]
    assert 'href="#file"' in staff.page and "<title>Error: " in staff.page
    assert "Nothing was recorded. What you typed is kept, but a page cannot keep chosen files: choose the files again" \
        in staff.page
    for value in TYPED.values():
        assert f'value="{value}"' in staff.page
    assert state(db) == before


@pytest.mark.parametrize("extra, accepted", [(0, True), (1, False)], ids=["the limit", "one byte more"])
def test_the_size_limit_is_a_boundary(db, tmp_path, extra, accepted):
    app = make_app(db, settings_path=settings_with(tmp_path, upload_max_file_megabytes=1))
    staff = sign_in(app.test_client(), "cora")
    before = state(db)
    receive(staff, (pdf_of_size(MB + extra), "scan.pdf"))
    if accepted:
        assert staff.status == 303 and len(state(db)[2]) == 1
    else:
        assert staff.status == 400 and errors(staff.page) == ["scan.pdf is larger than 1 MB"]
        assert "choose the file again" in staff.page and state(db) == before


@pytest.mark.parametrize("count, accepted", [(2, True), (3, False)], ids=["the limit", "one more"])
def test_the_count_limit_is_a_boundary_counting_the_patients_files(db, tmp_path, count, accepted):
    app = make_app(db, settings_path=settings_with(tmp_path, upload_max_files_per_record=3))
    with open_store(db) as store:  # the patient sent one already: it counts
        store.add_record_file(1, "surgical_report", filename="p.jpg", media_type="image/jpeg", data=files.jpeg(),
                              pages=1, by="patient-web", channel="web")
    staff = sign_in(app.test_client(), "cora")
    staff.get(PAGE)
    assert "This record can hold 3 files in all, counting any the patient sent; it has 1 now" in staff.page
    before = state(db)
    receive(staff, *[(files.pdf(), f"{n}.pdf") for n in range(1, count + 1)])
    if accepted:
        assert staff.status == 303 and len(state(db)[2]) == 3
    else:
        assert staff.status == 400
        assert errors(staff.page) == ["3.pdf is one file too many: a record holds at most 3 files"]
        assert state(db) == before and 'value="faxed by Dr Lee"' in staff.page


def test_a_typing_problem_with_files_says_to_choose_them_again_and_keeps_nothing(app, db):
    staff = sign_in(app.test_client(), "cora")
    before = state(db)
    receive(staff, (files.pdf(), "report.pdf"), fields={**TYPED, "fusion_date": "2024-13"})
    assert staff.status == 400 and errors(staff.page)[0].startswith("Date of the fusion in the operative report")
    assert "choose the file again" in staff.page and 'value="2024-13"' in staff.page
    assert state(db) == before


def test_a_forged_receive_form_is_refused_and_keeps_nothing(app, db):
    before = state(db)
    coordinator = sign_in(app.test_client(), "cora")
    assert receive(coordinator, (files.pdf(), "report.pdf"), token="").status_code == 400  # no CSRF token
    coordinator.get(PAGE)
    response = coordinator.client.post(RECEIVE, headers={"Origin": "https://elsewhere.example"}, data={
        "csrf_token": html.unescape(hidden(coordinator.page, "csrf_token")), **TYPED,
        "file": [(io.BytesIO(files.pdf()), "report.pdf")]}, content_type="multipart/form-data")
    assert response.status_code == 400  # another site's page
    clinician = sign_in(app.test_client(), "clint")
    clinician.get("/staff/intakes/1")
    response = clinician.client.post(RECEIVE, data={"csrf_token": html.unescape(hidden(clinician.page, "csrf_token")),
                                                    **TYPED, "file": [(io.BytesIO(files.pdf()), "report.pdf")]},
                                     content_type="multipart/form-data")
    assert response.status_code == 403
    assert state(db) == before


def test_a_body_over_the_settings_limit_is_the_records_page_saying_so(db, tmp_path):
    """The settings allow (file MB x files per record + 1) MB in one request; more is refused before
    the form is read (so nothing typed can be kept): the record's page, never a 500."""
    app = make_app(db, settings_path=settings_with(tmp_path, upload_max_file_megabytes=1,
                                                   upload_max_files_per_record=1))
    staff = sign_in(app.test_client(), "cora")
    before = state(db)
    receive(staff, (b"%PDF-1.7\n" + b"0" * (3 * MB), "huge.pdf"))
    assert staff.status == 413
    assert errors(staff.page) == ["The files were too big to send together (more than 2 MB). Nothing was recorded: "
                                  "attach fewer at a time (each under 1 MB) and fill in the form again"]
    assert state(db) == before
    # Not a coordinator: the plain page.
    clinician = sign_in(app.test_client(), "clint")
    response = clinician.client.post(RECEIVE, data={"file": [(io.BytesIO(b"0" * (3 * MB)), "x.pdf")]},
                                     content_type="multipart/form-data")
    assert response.status_code == 413 and "There is a problem" not in response.get_data(as_text=True)
    assert state(db) == before


def test_the_servers_body_limit_lets_a_records_scan_reach_the_page_and_refuses_more(app, db):
    """`triage serve`'s waitress (server_options) takes the largest request the upload settings allow
    (a 5 MiB scan reaches the app, which answers it: a 10 MB file is allowed), and answers a bigger
    body itself, before any of it is sent: 413, plain text."""
    from support.web_browser import Server
    from triage.channels.web.__main__ import server_options

    limit = server_options(app)["max_request_body_size"]
    assert limit == app.config["TRIAGE_UPLOAD_BODY_BYTES"] > 10 * MB
    server = Server(app)
    try:
        host, port = server.url.removeprefix("http://").split(":")

        def post(size: int, body: bytes | None):
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
            connection.putrequest("POST", RECEIVE)
            connection.putheader("Content-Type", "multipart/form-data; boundary=x")
            connection.putheader("Content-Length", str(size))
            connection.endheaders()
            if body is not None:
                connection.send(body)
            response = connection.getresponse()
            answer = (response.status, response.getheader("X-Request-Id"), response.read().decode())
            connection.close()
            return answer

        scan = (b'--x\r\nContent-Disposition: form-data; name="file"; filename="scan.pdf"\r\n'
                b"Content-Type: application/pdf\r\n\r\n" + b"%PDF-1.7\n" + b"0" * (5 * MB) + b"\r\n--x--\r\n")
        status, request_id, _ = post(len(scan), scan)  # no session: the app's answer (a plain 400), not waitress's
        assert status == 400 and request_id, status
        status, request_id, body = post(limit + 1, None)
        assert status == 413 and request_id is None and "Request Entity Too Large" in body, (status, body)
    finally:
        server.stop()