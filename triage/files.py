"""Reading answers files safely: every way a file can be wrong becomes one InvalidInput problem."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO

from triage.errors import InvalidInput, Problem

MAX_ANSWERS_BYTES = 1024 * 1024  # an answers file is a few kB; anything near this is not one


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"key {key!r} appears twice")
        seen[key] = value
    return seen


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON value")


def parse_json(data: bytes, where: str) -> Any:
    """Strict JSON: UTF-8 without BOM, no duplicate keys, no NaN/Infinity, nothing after the value."""
    def fail(message: str) -> InvalidInput:
        return InvalidInput([Problem(where, message)])

    if data.startswith(b"\xef\xbb\xbf"):
        raise fail("starts with a byte-order mark (BOM); save it as UTF-8 without BOM")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise fail(f"is not UTF-8 text (bad byte at position {error.start})") from None
    if not text.strip():
        raise fail("is empty; expected a JSON object of answers")
    try:
        value = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise fail(f"is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None
    except ValueError as error:
        raise fail(f"is not valid answers JSON: {error}") from None
    except RecursionError:
        raise fail("is nested too deeply to be an answers file") from None
    if isinstance(value, float) and not math.isfinite(value):  # e.g. 1e999
        raise fail("is not a JSON object of answers")
    return value


def read_bytes(path: str, stdin: BinaryIO | None = None) -> tuple[bytes, str]:
    """The file's bytes (``-`` = standard input) and the name to use in messages."""
    if path == "-":
        source = stdin or sys.stdin.buffer
        data = source.read(MAX_ANSWERS_BYTES + 1)
        where = "standard input"
    else:
        where = path
        file = Path(path)
        try:
            if file.is_dir():
                raise InvalidInput([Problem(where, "is a folder, not an answers file")])
            if file.stat().st_size > MAX_ANSWERS_BYTES:
                raise InvalidInput([Problem(where, "is larger than 1 MiB; an answers file is a few kB")])
            data = file.read_bytes()
        except OSError as error:
            reason = os.strerror(error.errno) if error.errno else str(error)
            raise InvalidInput([Problem(where, f"cannot be read ({reason.lower()})")]) from None
    if len(data) > MAX_ANSWERS_BYTES:
        raise InvalidInput([Problem(where, "is larger than 1 MiB; an answers file is a few kB")])
    return data, where


def read_answers_file(path: str, stdin: BinaryIO | None = None) -> Any:
    data, where = read_bytes(path, stdin)
    return parse_json(data, where)


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """Write a file so that a crash leaves either the old or the new content, never half of one:
    a temporary file in the same folder, fsync, rename over the target, fsync the folder."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    temporary = folder / f".{path.name}.{os.getpid()}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
