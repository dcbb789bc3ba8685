"""Backups you can restore (`triage db backup`, `triage db restore`).

A backup is a consistent copy of the whole store, taken while intakes are being written, and checked:
its audit chain is verified and its head (the hash of the last audit row) reported, so the operator can
note it and, after a restore, see `triage audit verify` print the same head.

- SQLite: SQLite's online backup API (``Store.copy_into``) into a new file 0600 beside the target,
  flushed to disk and then linked into place, so an existing file is never overwritten and a half-made
  copy never carries the target's name. The copy is then opened read-only and verified.
- PostgreSQL: ``pg_dump --format=custom --snapshot=ID`` inside one REPEATABLE READ transaction whose
  snapshot the dump shares and in which the store is verified, so the head printed is the dump's own.
  Restore runs ``pg_restore --no-owner --no-privileges --exit-on-error --single-transaction``; grants
  are then given again with ``triage db migrate --app-role``.

A restore checks the copy before touching the target, refuses a target that holds anything unless
told to replace it, and verifies the result. Messages name files and stores, never an answer value.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from triage.core.errors import InvalidInput, Problem, StoreError
from triage.records.store import AuditReport, is_postgresql_url, open_copy, open_store

# The exact flags, also in docs/deployment.md (tests/records/test_backup.py runs them on a real cluster).
PG_DUMP_FLAGS = ("--format=custom", "--no-password")
PG_RESTORE_FLAGS = ("--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--no-password")


@dataclass
class Outcome:
    """What a backup or restore made: where, and the verification of what is there now."""

    where: str
    report: AuditReport


# -- SQLite ----------------------------------------------------------------------------------------

def _new_private_file(target: Path, purpose: str) -> Path:
    """An empty 0600 file beside ``target`` (same file system, so it can be linked into place)."""
    if not target.parent.is_dir():
        raise InvalidInput([Problem(str(target), "its folder does not exist")])
    scratch = target.with_name(f".{target.name}.{purpose}.{os.getpid()}.tmp")
    try:
        os.close(os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as error:
        raise InvalidInput([Problem(str(target), f"cannot write beside it ({(error.strerror or str(error)).lower()})")]
                           ) from None
    return scratch


def _refuse_existing(target: Path) -> None:
    if target.exists() or target.is_symlink():
        raise InvalidInput([Problem(str(target), "exists; a backup never overwrites a file: give a new file name")])


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _publish(scratch: Path, target: Path) -> None:
    """Give the finished copy its name without ever replacing a file that appeared meanwhile."""
    _fsync(scratch)
    try:
        os.link(scratch, target)  # fails if target exists: never an overwrite, even in a race
    except FileExistsError:
        raise InvalidInput([Problem(str(target), "exists; a backup never overwrites a file: give a new file name")]
                           ) from None
    except OSError:  # a file system without hard links (some USB drives): rename after a last check
        _refuse_existing(target)
        os.rename(scratch, target)
    _fsync(target.parent)


def _remove(*paths: Path) -> None:
    for path in paths:
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"),
                     path.with_name(path.name + "-journal")):
            try:
                file.unlink()
            except FileNotFoundError:
                pass


def _existing_store(location: Path) -> Path:
    if not location.is_file():  # opening would create an empty store: a backup of nothing is a mistake
        raise StoreError(f"{location}: no store there (check --db or TRIAGE_DB)")
    return location


def backup_name(postgresql: bool, now: datetime | None = None, number: int = 1) -> str:
    """The name of a copy made into a folder: its UTC time, so names sort by age; a second copy
    within the same second gets ``-2`` (and so on)."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H%M%SZ")
    return f"triage-{stamp}{f'-{number}' if number > 1 else ''}.{'dump' if postgresql else 'db'}"


def free_name(folder: Path, postgresql: bool, now: datetime | None = None) -> Path:
    """A name in ``folder`` for a copy made now that no file has yet."""
    now = now or datetime.now(timezone.utc)
    number = 1
    while (folder / backup_name(postgresql, now, number)).exists():
        number += 1
    return folder / backup_name(postgresql, now, number)


def backup(location: Path | str, target: Path) -> Outcome:
    """Copy the store at ``location`` into the new file (or, for PostgreSQL, dump) ``target``; when
    ``target`` is a folder, into a new file in it named by the time (``backup_name``)."""
    if target.is_dir():
        target = free_name(target, is_postgresql_url(location))
    _refuse_existing(target)
    if is_postgresql_url(location):
        return _pg_backup(str(location), target)
    with open_store(_existing_store(Path(location)), for_reading=True) as store:
        scratch = _new_private_file(target, "backup")
        try:
            store.copy_into(scratch)
            _publish(scratch, target)
        finally:
            _remove(scratch)
    with open_copy(target) as copy:
        return Outcome(str(target), copy.verify_audit())


def restore(copy: Path, location: Path | str, *, replace: bool = False) -> Outcome:
    """Check ``copy``, then make the store at ``location`` hold exactly it. A store that holds
    anything is replaced only with ``replace``. Returns the verification of the restored store; when
    the copy itself fails its check, that report, and the target is untouched."""
    if not copy.is_file():
        raise InvalidInput([Problem(str(copy), "no such file")])
    if is_postgresql_url(location):
        return _pg_restore(copy, str(location), replace=replace)
    location = Path(location)
    if location.resolve() == copy.resolve():
        raise InvalidInput([Problem(str(copy), "is the store itself; restore into another --db")])
    location.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    scratch = _new_private_file(location, "restore")
    try:
        shutil.copyfile(copy, scratch)  # checked (and upgraded, if older) as a scratch store: the copy stays as it was
        with open_store(scratch) as checked:
            report = checked.verify_audit()
            if not report.ok:
                return Outcome(str(copy), report)
            with open_store(location) as store:
                if store.holds_anything() and not replace:
                    raise InvalidInput([Problem(str(location), "already holds intakes or staff accounts; restore into "
                                                "a new --db, or add --force to replace its whole content")])
                store.replace_with(checked)
    finally:
        _remove(scratch)
    with open_store(location) as store:
        restored = store.verify_audit()
    if restored.ok and restored.head_hash != report.head_hash:
        restored.problems.append(f"the restored store's head {restored.head_hash} is not the copy's {report.head_hash}")
    return Outcome(str(location), restored)


# -- PostgreSQL ------------------------------------------------------------------------------------

def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise StoreError(f"{name} is not installed: apt-get install postgresql-client (the server's major "
                         "version or newer)")
    return found


def without_password(url: str) -> tuple[str, str | None]:
    """The URL for a command line (no password in it, as ps shows command lines), and the password
    for the PGPASSWORD environment variable."""
    parts = urlsplit(url)
    password = None
    netloc = parts.netloc
    if "@" in netloc:
        credentials, _, hosts = netloc.rpartition("@")
        if ":" in credentials:
            user, password = credentials.split(":", 1)
            netloc = f"{user}@{hosts}"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    for key, value in pairs:
        if key == "password":
            password = value
    query = urlencode([(k, v) for k, v in pairs if k != "password"], safe="/")
    from urllib.parse import unquote

    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)), (
        unquote(password) if password is not None else None)


def _run(command: list[str], url: str, what: str) -> None:
    bare, password = without_password(url)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    done = subprocess.run([*command, f"--dbname={bare}"], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        from triage.records.store.postgresql import redact

        raise StoreError(f"{redact(url)}: {what} failed ({lines[0] if lines else f'exit {done.returncode}'})")


def _pg_backup(url: str, target: Path) -> Outcome:
    from triage.records.store.postgresql import verify_in_exported_snapshot

    pg_dump = _tool("pg_dump")
    scratch = _new_private_file(target, "backup")
    try:
        def dump(snapshot: str) -> None:
            _run([pg_dump, *PG_DUMP_FLAGS, f"--snapshot={snapshot}", f"--file={scratch}"], url, "pg_dump")

        with open_store(url) as store:
            report = verify_in_exported_snapshot(store, dump)
        _publish(scratch, target)
    finally:
        _remove(scratch)
    return Outcome(str(target), report)


def _pg_restore(dump: Path, url: str, *, replace: bool) -> Outcome:
    from triage.records.store.postgresql import connect, redact

    pg_restore = _tool("pg_restore")
    listed = subprocess.run([pg_restore, "--list", str(dump)], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL)
    if listed.returncode != 0 or "TABLE DATA" not in listed.stdout or " audit_head " not in listed.stdout:
        raise InvalidInput([Problem(str(dump), "is not a triage backup made by pg_dump --format=custom")])
    connection = connect(url)
    try:
        holds = connection.execute("SELECT to_regclass('triage_store') IS NOT NULL").fetchone()[0]
    finally:
        connection.close()
    if holds and not replace:
        raise InvalidInput([Problem(redact(url), "already holds a triage store; restore into an empty database, or "
                                    "add --force to replace it")])
    flags = [*PG_RESTORE_FLAGS, *(("--clean", "--if-exists") if holds else ())]
    _run([pg_restore, *flags, str(dump)], url, "pg_restore")
    with open_store(url) as store:
        return Outcome(redact(url), store.verify_audit())
