"""Checking an uploaded file by its content (triage.records.uploads): what is taken, what is kept of it, and
every hostile file refused with a reason (issue 30, items 2 and 6). The files are built here from
bytes (tests/support/hostile_files.py)."""

from __future__ import annotations

import io

import pytest

from support import hostile_files as files
from triage.core.errors import UploadRefused
from triage.core.settings import load_settings
from triage.records.uploads import MAX_NAME_LENGTH, UploadLimits, check_count, check_upload, safe_filename

LIMITS = UploadLimits.from_settings(load_settings())


def refused(data: bytes, name: str = "report", limits: UploadLimits = LIMITS) -> str:
    with pytest.raises(UploadRefused) as caught:
        check_upload(data, name, limits)
    return caught.value.reason


def test_the_shipped_limits_come_from_the_settings():
    settings = load_settings()
    assert LIMITS.max_bytes == settings.upload_max_file_megabytes * 1024 * 1024 == 10 * 1024 * 1024
    assert (LIMITS.max_files, LIMITS.max_image_pixels, LIMITS.max_pdf_pages) == (10, 50_000_000, 50)


# --- what is taken ----------------------------------------------------------------------------------

def test_a_phone_photo_is_taken_without_its_location_camera_or_comment():
    from PIL import Image

    sent = files.jpeg(gps=True, comment=b"taken at home")
    assert b"PhoneMaker" in sent and b"taken at home" in sent  # the control: the photo carries them
    checked = check_upload(sent, "IMG_2041.JPG", LIMITS)
    assert (checked.media_type, checked.pages, checked.filename) == ("image/jpeg", 1, "IMG_2041.jpg")
    assert b"PhoneMaker" not in checked.data and b"taken at home" not in checked.data
    assert b"Exif" not in checked.data
    with Image.open(io.BytesIO(checked.data)) as image:
        assert not image.getexif() and image.size == (40, 20)
        assert image.getpixel((5, 5))[0] > 150  # the pixels are the photo's


def test_a_photo_taken_sideways_is_turned_upright_before_its_metadata_goes():
    from PIL import Image

    checked = check_upload(files.jpeg(40, 20, orientation=6), "page.jpg", LIMITS)
    with Image.open(io.BytesIO(checked.data)) as image:
        assert image.size == (20, 40)


def test_a_png_loses_its_text_chunks():
    sent = files.png(text={"Author": "Jane Patient", "GPS": "51.5,-0.1"})
    assert b"Jane Patient" in sent
    checked = check_upload(sent, "scan.png", LIMITS)
    assert checked.media_type == "image/png" and b"Jane Patient" not in checked.data and b"51.5" not in checked.data


def test_a_pdf_is_kept_as_sent_and_its_pages_counted():
    sent = files.pdf(pages=3)
    checked = check_upload(sent, "MRI report.pdf", LIMITS)
    assert (checked.media_type, checked.pages, checked.filename, checked.data) == ("application/pdf", 3,
                                                                                     "MRI report.pdf", sent)
    assert check_upload(files.plain_handmade_pdf(), "x.pdf", LIMITS).pages == 1  # a plain /OpenAction /Fit is fine


# --- lying types ------------------------------------------------------------------------------------

def test_the_content_decides_the_type_not_the_name():
    checked = check_upload(files.png(), "operative-report.pdf", LIMITS)
    assert (checked.media_type, checked.filename) == ("image/png", "operative-report.png")
    checked = check_upload(files.pdf(), "photo.jpg", LIMITS)
    assert (checked.media_type, checked.filename) == ("application/pdf", "photo.pdf")


@pytest.mark.parametrize("data, name", [
    (files.SVG, "scan.png"),
    (files.HTML, "report.pdf"),
    (files.GIF, "page.jpg"),
    (files.zip_archive(), "report.pdf"),
    (b"MZ\x90\x00\x03" + b"\x00" * 200, "report.jpg"),
    (b"just some text that claims to be a photo", "photo.jpeg"),
])
def test_a_file_of_another_type_is_refused_whatever_its_name(data, name):
    assert refused(data, name) == "wrong_type"


def test_a_file_with_a_real_header_and_nothing_behind_it_is_unreadable():
    assert refused(files.jpeg()[:40], "photo.jpg") == "unreadable"
    assert refused(b"%PDF-1.7\n" + b"\x00" * 500, "report.pdf") == "unreadable"
    broken = files.pdf().replace(b"/Type /Pages", b"/Type /Pagez").replace(b"startxref", b"startxreg")
    assert refused(broken, "report.pdf") == "unreadable"


# --- polyglots --------------------------------------------------------------------------------------

def test_a_pdf_with_an_archive_appended_is_refused():
    assert refused(files.pdf() + files.zip_archive(), "report.pdf") == "wrong_type"
    assert check_upload(files.pdf() + b"\r\n\x00 ", "report.pdf", LIMITS).pages == 1  # the control


def test_a_pdf_header_after_something_else_is_refused():
    assert refused(b"<html><!--" + files.pdf(), "report.pdf") == "wrong_type"


def test_an_image_with_a_page_or_an_archive_hidden_in_it_is_kept_as_pixels_only():
    payload = b"<script>alert(document.domain)</script>"
    for sent in (files.jpeg(comment=payload) + files.zip_archive(), files.png(text={"x": payload.decode()})):
        checked = check_upload(sent, "a.jpg", LIMITS)
        assert payload not in checked.data and b"PK\x03\x04" not in checked.data


# --- PDFs that act ----------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [files.pdf_with_javascript, files.pdf_with_launch_on_open,
                                  files.pdf_with_escaped_javascript, files.pdf_with_attachment])
def test_a_pdf_that_runs_something_is_refused(make):
    assert refused(make(), "report.pdf") == "pdf_active"


def test_a_pdf_locked_with_a_password_is_refused():
    assert refused(files.locked_pdf(), "report.pdf") == "pdf_locked"


# --- sizes and counts: boundary pairs ---------------------------------------------------------------

def test_an_empty_file_is_refused():
    assert refused(b"", "report.pdf") == "empty"


def test_the_size_limit_is_a_boundary():
    sent = files.pdf()
    exact = UploadLimits(max_bytes=len(sent), max_files=1, max_image_pixels=10**6, max_pdf_pages=5)
    assert check_upload(sent, "a.pdf", exact).pages == 1
    smaller = UploadLimits(max_bytes=len(sent) - 1, max_files=1, max_image_pixels=10**6, max_pdf_pages=5)
    assert refused(sent, limits=smaller) == "too_large"


def test_the_page_limit_is_a_boundary():
    limits = UploadLimits(max_bytes=10**7, max_files=1, max_image_pixels=10**6, max_pdf_pages=4)
    assert check_upload(files.pdf(pages=4), "a.pdf", limits).pages == 4
    assert refused(files.pdf(pages=5), limits=limits) == "too_many_pages"


def test_the_count_limit_is_a_boundary():
    limits = UploadLimits(max_bytes=10**7, max_files=3, max_image_pixels=10**6, max_pdf_pages=4)
    check_count(2, limits)
    with pytest.raises(UploadRefused) as caught:
        check_count(3, limits)
    assert caught.value.reason == "too_many_files"


# --- decompression bombs ----------------------------------------------------------------------------

def test_an_image_that_says_it_is_huge_is_refused_from_its_header():
    # 100,000 x 100,000 pixels (10 gigabytes once decoded) in a few hundred bytes.
    bomb = files.png_bomb(100_000, 100_000, rows=1)
    assert len(bomb) < 2_000
    assert refused(bomb, "scan.png") == "too_many_pixels"


def test_a_decompression_bomb_just_over_the_limit_is_refused_and_one_at_it_is_taken():
    limits = UploadLimits(max_bytes=10**7, max_files=1, max_image_pixels=1000 * 1000, max_pdf_pages=4)
    taken = files.png_bomb(1000, 1000)  # 1 MB of pixels from a few kilobytes
    assert len(taken) < 10_000
    assert check_upload(taken, "a.png", limits).pages == 1
    assert refused(files.png_bomb(1000, 1001), limits=limits) == "too_many_pixels"


def test_pillow_s_own_bomb_guard_is_caught_too():
    # Past Pillow's own limit (twice MAX_IMAGE_PIXELS) even if a clinic set ours higher.
    from PIL import Image

    limits = UploadLimits(max_bytes=10**7, max_files=1, max_image_pixels=10**12, max_pdf_pages=4)
    side = int((2 * Image.MAX_IMAGE_PIXELS) ** 0.5) + 10
    assert refused(files.png_bomb(side, side, rows=1), limits=limits) == "too_many_pixels"


# --- names ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("given, kept", [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("C:\\Users\\pat\\Desktop\\op report.pdf", "op report.pdf"),
    ("report\x00.exe.pdf", "report.exe.pdf"),
    ("line\r\nbreak.pdf", "linebreak.pdf"),
    ("photo\u202egpj.exe", "photogpj.pdf"),  # a right-to-left override that would show "exe.jpg"
    ("zero\u200bwidth.pdf", "zerowidth.pdf"),
    ('a<b>c:"d"|e?f*.pdf', "abcdef.pdf"),
    ("  spaced\t  out  .pdf", "spaced out.pdf"),
    ("", "file.pdf"),
    ("..", "file.pdf"),
    ("/", "file.pdf"),
    ("informe de resonancia magnética.PDF", "informe de resonancia magnética.pdf"),
])
def test_a_file_name_is_only_a_label(given, kept):
    assert safe_filename(given, "application/pdf") == kept


def test_a_long_name_is_cut_and_keeps_its_extension():
    name = safe_filename("x" * 500 + ".jpeg", "image/jpeg")
    assert len(name) == MAX_NAME_LENGTH and name.endswith("x.jpg")
    assert len(safe_filename("y" * (MAX_NAME_LENGTH - 4) + ".pdf", "application/pdf")) == MAX_NAME_LENGTH


def test_every_refusal_reason_is_known():
    with pytest.raises(ValueError):
        UploadRefused("no_such_reason")
