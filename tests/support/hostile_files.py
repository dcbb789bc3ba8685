"""Files for the upload tests, built from bytes in the test (no file is shipped): honest photos and
PDFs, and the hostile ones (lying types, bombs, scripts, polyglots)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


def jpeg(width: int = 40, height: int = 20, *, gps: bool = False, orientation: int | None = None,
         comment: bytes | None = None, colour=(200, 30, 30)) -> bytes:
    """A JPEG photo, with EXIF location, camera make and orientation when asked."""
    from PIL import Image

    image = Image.new("RGB", (width, height), colour)
    exif = Image.Exif()
    if gps:
        exif[MAKE] = "PhoneMaker"
        exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 40.0)}
    if orientation is not None:
        exif[ORIENTATION] = orientation
    out = io.BytesIO()
    options = {"exif": exif.tobytes()} if (gps or orientation is not None) else {}
    if comment:
        options["comment"] = comment
    image.save(out, "JPEG", quality=85, **options)
    return out.getvalue()


def phone_photo(megabytes: float = 3.0) -> bytes:
    """A JPEG as big as a phone's photo of a page (about ``megabytes``), of detail that does not
    compress (seeded noise, the same bytes every run): the bytes of a real file, unlike a flat colour
    or zeros, which a form parser handles in a few large pieces."""
    import random

    from PIL import Image

    side = int((megabytes * 1024 * 1024 / 0.77) ** 0.5)  # noise at quality 90: about 0.8 bytes a pixel
    noise = random.Random(4711).randbytes(side * side * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), noise).save(out, "JPEG", quality=90)
    return out.getvalue()


def png(width: int = 30, height: int = 10, *, text: dict[str, str] | None = None) -> bytes:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 10)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_bomb(width: int, height: int, *, rows: int | None = None) -> bytes:
    """A PNG that says it is ``width`` x ``height`` (greyscale): a few kilobytes that decode to
    width*height bytes. ``rows``: how many rows of zeros the compressed data really holds (all of
    them by default: a true decompression bomb; fewer: a lying header)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    body = b"".join(compressor.compress(row) for _ in range(height if rows is None else rows)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("index.html", "<script>alert(1)</script>")
    return out.getvalue()


def pdf(pages: int = 1) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_javascript() -> bytes:
    """Document-level JavaScript (the catalogue's /Names /JavaScript tree), run when the file opens."""
    return handmade_pdf(
        b"<< /Type /Catalog /Pages 2 0 R /Names << /JavaScript << /Names [(hello) 4 0 R] >> >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /S /JavaScript /JS (app.alert('hello');) >>",
    )


def pdf_with_attachment() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_attachment("run.exe", b"MZ\x90\x00")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def handmade_pdf(*objects: bytes, root: int = 1) -> bytes:
    """A PDF from object bodies (object n is ``objects[n-1]``), with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


def pdf_with_launch_on_open() -> bytes:
    """A page whose open action launches a program (the action hidden in a page's /AA)."""
    return handmade_pdf(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /AA << /O 4 0 R >> >>",
        b"<< /S /Launch /F (cmd.exe) >>",
    )


def pdf_with_escaped_javascript() -> bytes:
    """/JavaScript written with a #xx escape in the name (/J#61vaScript), as malware does to pass a
    search of the bytes."""
    return handmade_pdf(
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>",
    )


def plain_handmade_pdf() -> bytes:
    """The same PDF as above without any action: the control for the handmade ones."""
    return handmade_pdf(
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction [3 0 R /Fit] >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    )


def locked_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


SVG = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>alert(document.cookie)</script></svg>')
HTML = b"<!doctype html><html><body><script>fetch('/staff/')</script></body></html>"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
