"""Typed errors of the core. The CLI turns each into one clear line per problem and an exit code."""

from __future__ import annotations

from typing import NamedTuple


class TriageError(Exception):
    """Base of every error the core raises on purpose."""


class Problem(NamedTuple):
    """One problem with one field: ``where`` names the field (or file), ``message`` says what is wrong.
    An empty ``where`` means the message is a whole sentence that names its subject itself. (A named
    tuple, not a dataclass: every command imports it, and a dataclass costs ~1 ms to create.)"""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class InvalidInput(TriageError):
    """The answers (or the file holding them) cannot be used. Carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class DefinitionError(TriageError):
    """A questionnaire, rules or settings file is broken. Names the file and the item."""


class EngineError(TriageError):
    """The rules engine failed or broke a safety invariant; no result is given."""


class StoreError(TriageError):
    """The intake store cannot be used (not a triage store, corrupt, written by a newer version, not
    writable, busy for too long). Messages name the file, never an answer value."""


class StoreUnavailable(StoreError):
    """The store's server cannot be reached just now (down, restarting, failing over): nothing was
    done, and the same request can succeed once it is back. The web pages answer 503, not 500."""


class AuditKeyMissing(StoreError):
    """The store's audit chain is signed with a key this process was not given (no key file, or a file
    without that key): nothing can be recorded until the administrator gives it. Not the request's
    fault: the web pages answer 503 and log why; commands exit 5."""


class IntakeNotFound(InvalidInput):
    """No intake (or no such version of it) in the store: bad input naming the id, exit 2.
    ``message`` follows "intake N", e.g. ``does not exist``."""

    def __init__(self, intake_id: int, message: str):
        self.intake_id = intake_id
        super().__init__([Problem("", f"intake {intake_id} {message}")])


class Conflict(StoreError):
    """Someone else recorded a newer version of the intake since the version this change was based
    on; nothing was written. Reload, check, and amend again."""


class PatientChanged(InvalidInput):
    """A new version of an intake names another patient reference than the intake's: refused (exit 2)
    unless asked for (``--change-patient``), so that no intake takes another patient's answers silently.
    The message never holds a reference (an identifier): it says where to see them."""

    def __init__(self, intake_id: int):
        self.intake_id = intake_id
        super().__init__([Problem("", f"intake {intake_id}: these answers name another patient reference than "
                                  f"the intake's (triage show {intake_id}); nothing was saved. If this is right, "
                                  "give --change-patient")])


class RecordError(InvalidInput):
    """A record request, receipt or "not obtainable" that cannot be recorded (triage.records.requests): bad
    input naming the intake and the item, exit 2; nothing was written."""

    def __init__(self, intake_id: int, item: str, message: str):
        self.intake_id, self.item = intake_id, item
        super().__init__([Problem("", f"intake {intake_id}: {item} {message}")])


class RecordNotMissing(RecordError):
    """The item is not missing in the intake's latest version: there is nothing to request, receive or
    give up on (it was received already, or was never missing)."""


class RecordRequestClosed(RecordError):
    """The item's request was already closed that way (received, or marked not obtainable)."""


class UploadRefused(TriageError):
    """An uploaded file is not taken (triage.records.uploads); nothing was stored. ``reason`` is an id the
    edge turns into one plain sentence in the reader's language: ``empty``, ``too_large``,
    ``wrong_type`` (not a PDF, JPEG or PNG by its content, or two files in one), ``unreadable``,
    ``too_many_pixels``, ``too_many_pages``, ``pdf_active`` (scripts or actions), ``pdf_locked``
    (a password), ``too_many_files``."""

    REASONS = ("empty", "too_large", "wrong_type", "unreadable", "too_many_pixels", "too_many_pages",
               "pdf_active", "pdf_locked", "too_many_files")

    def __init__(self, reason: str):
        if reason not in self.REASONS:
            raise ValueError(f"unknown upload refusal {reason!r}")
        self.reason = reason
        super().__init__(f"upload refused: {reason.replace('_', ' ')}")


class SecondFactorUnavailable(TriageError):
    """A staff account's second factor is sealed (triage/records/store/otp_keys.py) and cannot be
    opened here: no key file given, the file lacks the key it was sealed with, or the sealed value
    was altered or copied from another account. The account cannot sign in on this server; the
    message names the account and the key id, never the secret."""

    def __init__(self, name: str, key_id: str | None, reason: str):
        self.name, self.key_id, self.reason = name, key_id, reason
        super().__init__(f"staff account {name}: its second factor is sealed with key {key_id or '?'} and {reason}")
