"""Files a patient uploads (photos or PDFs of the operative report and the MRI report): checked by
their content, never their name, before anything is stored. Domain core: no web framework.

- The type comes from the bytes (puremagic's signatures): only PDF, JPEG and PNG are taken.
- Images are decoded (JPEG or PNG only, at most ``max_image_pixels``: a decompression bomb is
  refused from its header, before the pixels are decoded) and encoded again from the pixels alone,
  so that the location, the camera, the date and every other piece of metadata, and whatever was
  hidden after or inside the image (a polyglot), are gone. The photo is turned upright first (the
  EXIF orientation is the one tag that changes what staff see).
- PDFs are parsed (pypdf), never rendered: the file must start with a PDF header and end with its
  end-of-file marker (nothing appended after it: an appended archive or page is a polyglot); every
  object is read, and JavaScript, launch, form-submission, embedded-file and multimedia actions are
  refused. A PDF that cannot be parsed, or is locked with a password, is refused. The bytes are
  kept as they were sent (a clinical record is not rewritten); staff download them as an attachment.
- The file name is only a label: path parts, control and direction characters are removed, it is
  cut to ``MAX_NAME_LENGTH`` characters, and its extension is the one of the type found.

Every refusal is a :class:`triage.core.errors.UploadRefused` with a reason id; the web pages turn it into
one plain sentence in the patient's language.
"""

from __future__ import annotations

import io
import re
import struct
import unicodedata
from dataclasses import dataclass
from typing import Any

from triage.core.errors import UploadRefused

# What may be uploaded, by the media type found in the bytes, with the extension the name gets.
MEDIA_TYPES: dict[str, str] = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
# The record items a patient can upload pages of: the result's missing-item ids.
RECORD_ITEMS = ("surgical_report", "current_mri")
# How a file came, its ``channel`` in the store: the patient's own pages, the staff receive form
# (/staff/intakes/ID/records/ITEM), `triage records receive --file`.
PATIENT_CHANNEL, STAFF_CHANNEL, RECORDS_CHANNEL = "web", "staff", "records"
_WHERE = {PATIENT_CHANNEL: "the patient pages", STAFF_CHANNEL: "the staff pages", RECORDS_CHANNEL: "records"}
MAX_NAME_LENGTH = 80
JPEG_QUALITY = 90  # a photo of a printed page stays readable; the original's quality is unknown

# Actions a PDF viewer could run or fetch without the reader choosing to (PDF 32000 12.6.4), and the
# keys that carry scripts, attached files, forms or multimedia. A plain link (/URI, /GoTo) is allowed.
_PDF_ACTIVE_ACTIONS = frozenset({"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToR", "/GoToE",
                                 "/RichMediaExecute", "/Rendition", "/Movie", "/Sound", "/Hide", "/SetOCGState"})
_PDF_ACTIVE_KEYS = frozenset({"/JS", "/JavaScript", "/EmbeddedFiles", "/EmbeddedFile", "/EF", "/RichMedia",
                              "/XFA", "/Launch"})
_PDF_HEADER = re.compile(rb"%PDF-[12]\.[0-9]")
_PDF_END = b"%%EOF"
_PDF_TRAILING = frozenset(b" \t\r\n\x00\x0c")  # what writers leave after the end marker
_MAX_PDF_OBJECTS = 200_000  # a scanned report has hundreds; millions is an attack on the parser
# Removed from names: controls, format characters (right-to-left overrides that disguise an
# extension, zero-width characters), and characters that are separators or special to file systems.
_NAME_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_NAME_RESERVED = set('<>:"|?*')


@dataclass(frozen=True)
class UploadLimits:
    """The clinic's limits (settings ``upload_*``)."""

    max_bytes: int
    max_files: int  # per record item of an intake
    max_image_pixels: int
    max_pdf_pages: int

    @classmethod
    def from_settings(cls, settings: Any) -> "UploadLimits":
        return cls(max_bytes=settings.upload_max_file_megabytes * 1024 * 1024,
                   max_files=settings.upload_max_files_per_record,
                   max_image_pixels=settings.upload_max_image_megapixels * 1_000_000,
                   max_pdf_pages=settings.upload_max_pdf_pages)


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed every check, ready to store: ``data`` is what is kept (an image re-encoded)."""

    filename: str
    media_type: str
    data: bytes
    pages: int


def check_upload(data: bytes, filename: str, limits: UploadLimits) -> CheckedFile:
    """The file as it may be stored, or :class:`UploadRefused` saying why not."""
    if not data:
        raise UploadRefused("empty")
    if len(data) > limits.max_bytes:
        raise UploadRefused("too_large")
    media_type = sniff(data)
    if media_type == "application/pdf":
        pages = pdf_pages(data, limits)
    else:
        data = clean_image(data, media_type, limits)
        pages = 1
        if len(data) > limits.max_bytes:  # re-encoded larger than sent (rare: a very compressed original)
            raise UploadRefused("too_large")
    return CheckedFile(filename=safe_filename(filename, media_type), media_type=media_type, data=data, pages=pages)


def check_count(already: int, limits: UploadLimits) -> None:
    """Refuse one more file for a record item that holds ``already`` (not removed) files."""
    if already >= limits.max_files:
        raise UploadRefused("too_many_files")


# Each refusal in words, for staff (the staff receive form, `triage records receive --file`), after the
# file's name; the setting that sets its number, which the terminal names. (Patients get their own
# sentences in their language: the web texts' records_error_*.)
REFUSALS: dict[str, tuple[str, str | None]] = {
    "empty": ("is empty", None),
    "too_large": ("is larger than {megabytes} MB", "upload_max_file_megabytes"),
    "wrong_type": ("is not a PDF, JPEG or PNG file by its content (whatever its name says)", None),
    "unreadable": ("cannot be read as the PDF, JPEG or PNG file it starts as (damaged or cut short)", None),
    "too_many_pixels": ("is a picture larger than {megapixels} megapixels", "upload_max_image_megapixels"),
    "too_many_pages": ("has more than {pages} pages", "upload_max_pdf_pages"),
    "pdf_active": ("is a PDF with scripts, actions or attached files; print it to a new PDF or scan it", None),
    "pdf_locked": ("is a PDF locked with a password; save a copy without the password", None),
    "too_many_files": ("is one file too many: a record holds at most {files} files", "upload_max_files_per_record"),
}


def refusal_text(reason: str, limits: UploadLimits, *, setting: bool = False) -> str:
    """Why a file was refused, in words (to follow its name); ``setting``: name the setting too."""
    words, name = REFUSALS.get(reason, (reason.replace("_", " "), None))
    text = words.format(megabytes=limits.max_bytes // (1024 * 1024), megapixels=limits.max_image_pixels // 1_000_000,
                        pages=limits.max_pdf_pages, files=limits.max_files)
    return f"{text} (setting {name})" if setting and name else text


def added_words(file: Any) -> str:
    """Who kept a record file (triage.records.store.RecordFile), in words: "sent by the patient" or
    "added by NAME" (the staff summary, `triage show`)."""
    return "sent by the patient" if file.channel == PATIENT_CHANNEL else f"added by {file.added_by}"


def added_text(file: Any) -> str:
    """``added_words`` with the day and the way it came: "added 2026-12-06 by cora via the staff pages"."""
    verb, _, who = added_words(file).partition(" by ")
    return f"{verb} {file.added_at[:10]} by {who} via {_WHERE.get(file.channel, file.channel)}"


def sniff(data: bytes) -> str:
    """The media type the bytes show (their signature), if it is one we take."""
    import puremagic

    try:
        found = puremagic.from_string(data, mime=True)
    except (puremagic.PureError, ValueError):
        raise UploadRefused("wrong_type") from None
    if found not in MEDIA_TYPES:
        raise UploadRefused("wrong_type")
    # puremagic looks for a signature near the start; ours are at byte 0 (a PDF reader accepts a
    # header up to 1 KiB in, which is how a file is made to be read as two types at once).
    if found == "application/pdf" and not _PDF_HEADER.match(data):
        raise UploadRefused("wrong_type")
    return found


# --- images -----------------------------------------------------------------------------------------

def clean_image(data: bytes, media_type: str, limits: UploadLimits) -> bytes:
    """The image encoded again from its pixels alone, upright: no metadata, nothing hidden."""
    from PIL import Image, ImageOps

    expected = "JPEG" if media_type == "image/jpeg" else "PNG"
    try:
        with Image.open(io.BytesIO(data), formats=[expected]) as image:
            # The header gives the size before any pixel is decoded: a bomb stops here.
            width, height = image.size
            if width * height > limits.max_image_pixels or width < 1 or height < 1:
                raise UploadRefused("too_many_pixels")
            image.load()
            upright = ImageOps.exif_transpose(image)
            return _encode(upright, expected)
    except UploadRefused:
        raise
    except Image.DecompressionBombError:
        raise UploadRefused("too_many_pixels") from None
    except (OSError, SyntaxError, ValueError, TypeError, EOFError, KeyError, IndexError, MemoryError,
            ZeroDivisionError, struct.error):
        # Pillow reports a damaged or truncated image with any of these.
        raise UploadRefused("unreadable") from None


def _encode(image, kind: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    if kind == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        # A new image from the pixels: no EXIF, XMP, ICC, comments or thumbnails are carried over.
        fresh = Image.new(image.mode, image.size)
        fresh.paste(image)
        fresh.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
            image = image.convert("RGBA")
        if image.mode == "P":  # a palette image's transparency lives in its info; keep the pixels only
            image = image.convert("RGBA")
        fresh = Image.new(image.mode, image.size)
        fresh.paste(image)
        fresh.save(out, "PNG", optimize=False)
    return out.getvalue()


# --- PDFs -------------------------------------------------------------------------------------------

def pdf_pages(data: bytes, limits: UploadLimits) -> int:
    """How many pages the PDF has, after checking its ends and every object in it."""
    _check_pdf_ends(data)
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise UploadRefused("pdf_locked")
        _check_pdf_objects(reader)
        pages = len(reader.pages)
    except UploadRefused:
        raise
    except (PyPdfError, OSError, ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError,
            RecursionError, MemoryError, NotImplementedError, struct.error):
        # pypdf reports a damaged file with many exception types; any of them means "not usable".
        raise UploadRefused("unreadable") from None
    if pages < 1:
        raise UploadRefused("unreadable")
    if pages > limits.max_pdf_pages:
        raise UploadRefused("too_many_pages")
    return pages


def _check_pdf_ends(data: bytes) -> None:
    end = data.rfind(_PDF_END)
    if end < 0 or b"startxref" not in data[max(0, end - 2048):end]:
        raise UploadRefused("unreadable")
    if any(byte not in _PDF_TRAILING for byte in data[end + len(_PDF_END):]):
        raise UploadRefused("wrong_type")  # something appended after the end: a second file in one


def _check_pdf_objects(reader) -> None:
    """Every indirect object (from the cross-reference tables and object streams), and the trailer."""
    from pypdf.generic import IndirectObject

    numbers: set[tuple[int, int]] = set()
    for generation, table in reader.xref.items():
        numbers |= {(number, generation) for number in table}
    numbers |= {(number, 0) for number in reader.xref_objStm}
    if len(numbers) > _MAX_PDF_OBJECTS:
        raise UploadRefused("unreadable")
    _check_pdf_value(reader.trailer, set())
    for number, generation in sorted(numbers):
        try:
            value = reader.get_object(IndirectObject(number, generation, reader))
        except Exception:  # one damaged object: not usable
            raise UploadRefused("unreadable") from None
        _check_pdf_value(value, set())


def _check_pdf_value(value: Any, seen: set[int]) -> None:
    """Walk a direct object (dictionaries and arrays nested in it; references are visited as their
    own objects above, so the walk never follows them)."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (DictionaryObject, StreamObject)):
            if _PDF_ACTIVE_KEYS & set(item.keys()):
                raise UploadRefused("pdf_active")
            action = item.get("/S")
            if not isinstance(action, IndirectObject) and action in _PDF_ACTIVE_ACTIONS:
                raise UploadRefused("pdf_active")
            stack.extend(item.values())
        elif isinstance(item, ArrayObject):
            stack.extend(item)


# --- names ------------------------------------------------------------------------------------------

def safe_filename(name: str, media_type: str) -> str:
    """A label staff can read and save under: the last path part only, no control or direction
    characters, at most ``MAX_NAME_LENGTH`` characters, ending in the extension of the type found."""
    extension = MEDIA_TYPES[media_type]
    stem = _stem(name)
    stem = stem[:MAX_NAME_LENGTH - len(extension)].strip(" .") or "file"
    return stem + extension


def shown_name(name: str) -> str:
    """The name the patient chose, cleaned the same way, extension kept (to name a refused file)."""
    cleaned = _clean(name)
    return cleaned[:MAX_NAME_LENGTH].strip(" .") or "file"


def _clean(name: str) -> str:
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(" " if unicodedata.category(ch) in ("Zs",) or ch == "\t" else ch for ch in name
                   if unicodedata.category(ch) not in _NAME_DROPPED_CATEGORIES and ch not in _NAME_RESERVED)
    return re.sub(r"\s+", " ", name).strip(" .")


def _stem(name: str) -> str:
    name = _clean(name)
    return name.rsplit(".", 1)[0].strip(" .") if "." in name else name
