"""Validated definitions kept between runs, so that a command starts without parsing and validating the
rules and settings files again (TOML parsing alone is a tenth of `triage assess`'s start-up).

What is kept, and why using it is sound:
- the object ``load_ruleset`` / ``load_settings`` built from a file, after it passed validation (a
  file that fails is never kept: its error is raised every time);
- under a key that is the SHA-256 of the model's name, the file's exact bytes, and the code that
  validates and shapes it (the source of the modules in ``CODE``, Python's, pydantic's and
  pydantic-core's versions): an edited file, an edited module or an upgrade gives another key, so an
  entry is only ever used for the bytes and the code it was made from;
- in ``$TRIAGE_CACHE_DIR``, else ``$XDG_CACHE_HOME/fbss-triage``, else ``~/.cache/fbss-triage``,
  folder 0700 and files 0600, written whole and renamed into place.

An entry is used only if all of this holds, else it is ignored and made again from the file:
the folder and the file belong to this user and nobody else can read or write them; the file is not
a link; it starts with this format's header and the key asked for; the SHA-256 of its content is the
one in its header (a truncated or altered file); unpickling names only the definition models and their
enums (``_Only``: a file cannot make us run anything, however it was made); and it gives an object of
the model asked for. Nothing here ever fails a command: without a usable folder, definitions are
read from their files as before. ``TRIAGE_CACHE=off`` turns the cache off.
"""

from __future__ import annotations

import enum
import hashlib
import io
import os
import pickle
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)

FORMAT = b"fbss-triage definition cache 1\n"
# The modules whose code decides what a validated definition is (models, validators, the vocabularies
# they check against). tests/core/test_definition_cache.py checks that loading the definitions imports no
# other module of the package.
CODE = ("answers", "dates", "definition_cache", "definitions", "errors", "facts", "result_values", "ruleset",
        "safe_text", "segments", "settings")
# Where kept classes may come from: only pydantic models and enums of these modules are unpickled.
MODEL_MODULES = ("triage.core.result_values", "triage.core.ruleset", "triage.core.settings")
KEEP_PER_MODEL = 8  # older entries of a model (other file versions, other code) are removed


def load(model: type[Model], path: Path, build: Callable[[], Model]) -> Model:
    """``build()`` (read and validate ``path``), or the object it gave before for the same bytes and code."""
    folder = _folder()
    try:
        content = Path(path).read_bytes()
    except OSError:
        folder = None  # build() reports the file as it always did
    if folder is None:
        return build()
    key = _key(model, content)
    entry = folder / f"{model.__name__}-{key[:32]}.pickle"
    kept = _read(entry, model, key)
    if kept is not None:
        return kept
    made = build()
    _write(folder, entry, model, key, made)
    return made


def _folder() -> Path | None:
    """The cache folder, made 0700 if needed; None when the cache is off or the folder is not ours alone."""
    if os.environ.get("TRIAGE_CACHE", "").lower() == "off":
        return None
    base = os.environ.get("TRIAGE_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = os.path.join(xdg if xdg and os.path.isabs(xdg) else os.path.expanduser("~/.cache"), "fbss-triage")
    folder = Path(base) / "definitions"
    try:
        Path(base).mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return folder


_code_digest: str | None = None


def code_digest() -> str:
    """The code a kept definition depends on, as one SHA-256 (computed once per process)."""
    global _code_digest
    if _code_digest is None:
        import pydantic
        import pydantic_core

        digest = hashlib.sha256()
        for part in (sys.version, pydantic.VERSION, pydantic_core.__version__):
            digest.update(part.encode() + b"\0")
        package = Path(__file__).resolve().parent
        for name in CODE:
            digest.update(name.encode() + b"\0" + (package / f"{name}.py").read_bytes() + b"\0")
        _code_digest = digest.hexdigest()
    return _code_digest


def _key(model: type[BaseModel], content: bytes) -> str:
    digest = hashlib.sha256()
    for part in (model.__module__.encode(), model.__qualname__.encode(), code_digest().encode(), content):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


class _Only(pickle.Unpickler):
    """Unpickles definition models and their enums, and nothing else (no function, no other class)."""

    def find_class(self, module: str, name: str):
        found = getattr(sys.modules.get(module), name, None) if module in MODEL_MODULES else None
        if isinstance(found, type) and issubclass(found, (BaseModel, enum.Enum)):
            return found
        raise pickle.UnpicklingError(f"{module}.{name} is not a definition model")


def _read(entry: Path, model: type[Model], key: str) -> Model | None:
    try:
        descriptor = os.open(entry, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            return None
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read()
    except OSError:
        return None
    finally:
        os.close(descriptor)
    header = FORMAT + key.encode() + b"\n"
    if not data.startswith(header) or len(data) < len(header) + 65:
        return None
    checksum, payload = data[len(header):len(header) + 64], data[len(header) + 65:]
    if hashlib.sha256(payload).hexdigest().encode() != checksum:
        return None
    try:
        kept = _Only(io.BytesIO(payload)).load()
    except Exception:  # any unreadable or refused content: made again from the file
        return None
    return kept if type(kept) is model else None


def _write(folder: Path, entry: Path, model: type[BaseModel], key: str, made: BaseModel) -> None:
    for name in ("fingerprint", "json_data", "text_data"):  # kept with it: computed once, not every run
        if hasattr(type(made), name):
            getattr(made, name)
    try:
        payload = pickle.dumps(made, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # not picklable: simply not kept
        return
    data = FORMAT + key.encode() + b"\n" + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
    temporary = folder / f".{entry.name}.{os.getpid()}.tmp"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, entry)
    except OSError:
        try:
            temporary.unlink()
        except OSError:
            pass
        return
    _prune(folder, model)


def _prune(folder: Path, model: type[BaseModel]) -> None:
    try:
        entries = sorted(folder.glob(f"{model.__name__}-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP_PER_MODEL:]:
            old.unlink()
    except OSError:
        pass
