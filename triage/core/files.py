"""Reading answers files safely: every way a file can be wrong becomes one InvalidInput problem."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO

from triage.core.errors import InvalidInput, Problem

MAX_ANSWERS_BYTES = 1024 * 1024  # an answers file is a few kB; anything near this is not one


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"key {key!r} appears twice")
        seen[key] = value
    return seen


class NotANumber:
    """What a file wrote where a number can be: NaN, Infinity, -Infinity (not JSON, but common), 1e999
    (infinite as a float) or an integer too long to be an answer. It stands in for the value so that
    answers validation refuses it *naming the field* (``pain_score: NaN is not a whole number ...``);
    no validator accepts it, so it never reaches a result or the store."""

    def __init__(self, shown: str):
        self.shown = shown

    def __repr__(self) -> str:
        return self.shown


def _not_a_number(name: str) -> NotANumber:
    return NotANumber(name)


def _finite_float(text: str) -> float | NotANumber:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as infinity; no answer is ever that
        return NotANumber(f"the number {text[:20]}" + ("..." if len(text) > 20 else ""))
    return value


def _short_int(text: str) -> int | NotANumber:
    # Python refuses ints over 4300 digits with advice meant for programmers; no answer needs 20.
    if len(text.lstrip("-")) > 20:
        return NotANumber(f"a number with {len(text.lstrip('-'))} digits")
    return int(text)


def _encodable(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8: only a surrogate code point cannot."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _has_lone_surrogate(value: Any) -> bool:
    """A lone surrogate escape (backslash-u D800 to DFFF, unpaired) is valid JSON but not Unicode text:
    it cannot be printed or stored as UTF-8, so it would fail later, far from the file. Walked with
    a stack, not recursion: JSON nested almost to the parser's limit must not overflow here."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and not _encodable(item):
                return True
        elif isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            pending += item
    return False


def parse_json(data: bytes, where: str) -> Any:
    """Strict JSON: UTF-8 without BOM, no duplicate keys, no NaN/Infinity, nothing after the value."""
    def fail(message: str) -> InvalidInput:
        return InvalidInput([Problem(where, message)])

    if data.startswith(b"\xef\xbb\xbf"):
        raise fail("starts with a byte-order mark (BOM); save it as UTF-8 without BOM")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise fail("is not UTF-8 text (it looks like UTF-16); save it as UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise fail(f"is not UTF-8 text (bad byte at position {error.start})") from None
    if not text.strip():
        raise fail("is empty; expected a JSON object of answers")
    try:
        value = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_not_a_number,
                           parse_float=_finite_float, parse_int=_short_int)
    except json.JSONDecodeError as error:
        raise fail(f"is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None
    except ValueError as error:
        raise fail(f"is not valid answers JSON: {error}") from None
    except RecursionError:
        raise fail("is nested too deeply to be an answers file") from None
    if _has_lone_surrogate(value):
        raise fail("contains a \\u escape that is not a character (a lone surrogate)")
    return value


def read_bytes(path: str, stdin: BinaryIO | None = None) -> tuple[bytes, str]:
    """The file's bytes (``-`` = standard input) and the name to use in messages."""
    where = "standard input" if path == "-" else path
    try:
        if path == "-":
            if stdin is None and sys.stdin is None:  # started with standard input closed
                raise InvalidInput([Problem(where, "is closed; pipe the answers in or give a file")])
            data = (stdin or sys.stdin.buffer).read(MAX_ANSWERS_BYTES + 1)
        else:
            file = Path(path)
            if file.is_dir():
                raise InvalidInput([Problem(where, "is a folder, not an answers file")])
            if file.stat().st_size > MAX_ANSWERS_BYTES:
                raise InvalidInput([Problem(where, "is larger than 1 MiB; an answers file is a few kB")])
            with file.open("rb") as handle:  # bounded: a device such as /dev/zero reports size 0
                data = handle.read(MAX_ANSWERS_BYTES + 1)
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise InvalidInput([Problem(where, f"cannot be read ({reason.lower()})")]) from None
    if len(data) > MAX_ANSWERS_BYTES:
        raise InvalidInput([Problem(where, "is larger than 1 MiB; an answers file is a few kB")])
    return data, where


def read_answers_file(path: str, stdin: BinaryIO | None = None) -> Any:
    data, where = read_bytes(path, stdin)
    return parse_json(data, where)


def temporary_beside(path: Path) -> Path:
    """Where to write before renaming over ``path``: the same folder, so the rename is atomic."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    return folder / f".{path.name}.{os.getpid()}.tmp"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files that runs writing ``path`` left behind when they were killed
    (``kill -9``, power loss): ``.NAME.PID.tmp`` whose process is gone. A live process's file (a run
    still writing) is left alone. Returns what was removed, for the caller to report."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    removed = []
    try:
        candidates = list(folder.glob(f".{glob_escape(path.name)}.*.tmp"))
    except OSError:
        return removed
    for candidate in candidates:
        pid_text = candidate.name[len(path.name) + 2:-len(".tmp")]
        if not (pid_text.isascii() and pid_text.isdigit()) or int(pid_text) == os.getpid() or _alive(int(pid_text)):
            continue
        try:
            candidate.unlink()
            removed.append(candidate)
        except OSError:
            pass  # not ours to remove (permissions): left as it is
    return removed


def glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)


def move_into_place(temporary: Path, path: Path) -> None:
    """Rename a written and fsynced temporary file over ``path``, then fsync the folder so the
    rename itself survives a crash."""
    os.replace(temporary, path)
    directory = os.open(Path(temporary).parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """Write a file so that a crash leaves either the old or the new content, never half of one:
    a temporary file in the same folder, fsync, rename over the target, fsync the folder."""
    temporary = temporary_beside(path)
    remove_stale_temporaries(path)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        move_into_place(temporary, Path(path))
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
