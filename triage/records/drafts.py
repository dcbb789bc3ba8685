"""Drafts: where an intake's answers are kept while it is under way.

`triage intake` (and later the web pages) talk to a draft only through the ``Draft`` protocol, so the
interview never knows whether the answers live in an answers file or in the store:

- ``FileDraft``: an answers-contract JSON file (``--out FILE`` / ``--resume FILE``), rewritten atomically
  after every answer. It holds the answers object and nothing else (no progress bookkeeping: `triage
  assess` rejects unknown keys, and the position is recomputed from the answers on resume). Submitting
  records nothing: the file itself is the record.
- ``StoreDraft``: a draft row in the store, autosaved after every answer and resumable by intake id;
  submitting records the finished intake as a version.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from triage.core.answers import QUESTION_IDS
from triage.core.errors import InvalidInput, Problem
from triage.core.files import read_answers_file, write_atomic


@dataclass(frozen=True)
class Recorded:
    """Where a submitted intake was recorded."""

    intake_id: int
    version: int
    path: Path


class Draft(Protocol):
    @property
    def where(self) -> str:
        """Names the saved answers for people (a file name, or ``intake 4 in PATH``)."""

    def load(self) -> dict[str, Any]:
        """The raw answers object saved so far (validated by the caller)."""

    def save(self, answers: dict[str, Any]) -> None:
        """Durably replace the saved answers; InvalidInput (a file) or Conflict (the store) when that
        is impossible."""

    def resume_option(self) -> str:
        """The command-line option that continues this intake (``--resume FILE``)."""

    def submit(self, answers: dict[str, Any], result: dict[str, Any]) -> Recorded | None:
        """Record the finished intake (validated answers and their result); None when this kind of
        draft keeps no records (an answers file)."""


class FileDraft:
    """An answers-contract JSON file, rewritten atomically (write_atomic) after every answer.
    ``store_copy``: where its red flags reach staff (``StoreCopy``)."""

    def __init__(self, path: Path, store_copy: "StoreCopy | None" = None):
        self.path = Path(path)
        self.store_copy = store_copy

    @property
    def where(self) -> str:
        return str(self.path)

    def load(self) -> dict[str, Any]:
        return read_answers_file(str(self.path))

    def save(self, answers: dict[str, Any]) -> None:
        ordered = {key: answers[key] for key in QUESTION_IDS if key in answers}
        try:
            write_atomic(self.path, json.dumps(ordered, indent=2, ensure_ascii=False) + "\n")
        except OSError as error:
            reason = os.strerror(error.errno) if error.errno else str(error)
            raise InvalidInput([Problem(str(self.path), f"cannot be saved ({reason.lower()})")]) from None
        if self.store_copy is not None:
            self.store_copy.save(answers)

    def resume_option(self) -> str:
        return f"--resume {shlex.quote(str(self.path))}"

    def submit(self, answers: dict[str, Any], result: dict[str, Any]) -> None:
        return None


class StoreCopy:
    """How a file draft's red flag reaches staff: an answers file is read by nobody until someone runs
    `triage assess` on it, so from the first red flag answered yes the answers are also kept as a draft
    in the store (a new intake; updated after every answer from then on), where saving it raises the
    alert at once, as in every channel. The file stays the record of the intake.

    ``open_store()`` gives the store; ``copied(intake_id, where)`` is told once the copy exists;
    ``failed(message)`` once if the store cannot be used (the intake goes on: the file has everything)."""

    def __init__(self, open_store, user: str, copied, failed):
        self._open, self._user, self._copied, self._failed = open_store, user, copied, failed
        self._store = None
        self.intake_id: int | None = None
        self._revision: int | None = None
        self._broken = False

    def save(self, answers: dict[str, Any]) -> None:
        from triage.core.errors import TriageError

        if self._broken or (self.intake_id is None and not any(
                key.startswith("red_flag_") and value in ("yes", True) for key, value in answers.items())):
            return
        try:
            if self._store is None:
                self._store = self._open()
            draft = self._store.save_draft(answers, user=self._user, intake_id=self.intake_id,
                                           expected_revision=self._revision)
        except TriageError as error:  # the store cannot be used, or someone changed the copy
            self._broken = True
            self._failed(str(error))
            return
        first = self.intake_id is None
        self.intake_id, self._revision = draft.intake_id, draft.revision
        if first:
            self._copied(draft.intake_id, self._store.path)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def default_answers_path(now: datetime, folder: Path = Path(".")) -> Path:
    """``intake-2026-11-24-0932.json`` in the current folder; never an existing file."""
    stem = f"intake-{now:%Y-%m-%d-%H%M}"
    candidate = folder / f"{stem}.json"
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{number}.json"
        number += 1
    return candidate


class StoreDraft:
    """An intake's answers kept as a draft in the store while it is under way.

    - new intake: ``StoreDraft(store, user)``; the first ``save`` creates the intake and its id;
    - resume: ``StoreDraft(store, user, intake_id)`` continues its draft; an intake that has no
      draft but recorded versions starts an amendment draft from the latest version's answers;
    - two sessions on one draft: the one that saves second gets ``Conflict`` (nothing overwritten).
    """

    def __init__(self, store, user: str, intake_id: int | None = None, language: str | None = None):
        self._store = store
        self._user = user
        self.language = language  # recorded with the version: the language the patient read
        self.intake_id = intake_id
        self._revision: int | None = None
        self.base_version = 0
        self._answers: dict[str, Any] = {}
        if intake_id is not None:
            draft = store.load_draft(intake_id)
            if draft is not None:
                self._revision, self.base_version, self._answers = draft.revision, draft.base_version, draft.answers
            else:
                latest = store.get(intake_id)
                self.base_version, self._answers = latest.version, dict(latest.answers)

    @property
    def path(self) -> Path:
        return self._store.path

    @property
    def where(self) -> str:
        return f"intake {self.intake_id} in {self._store.path}" if self.intake_id else str(self._store.path)

    def resume_option(self) -> str:
        from triage.records.store import default_path

        where = "" if self._store.path == default_path() else f" --db {shlex.quote(str(self._store.path))}"
        return f"--resume-intake {self.intake_id}{where}"

    def load(self) -> dict[str, Any]:
        return dict(self._answers)

    def save(self, answers: dict[str, Any]) -> None:
        draft = self._store.save_draft(answers, user=self._user, intake_id=self.intake_id,
                                       expected_revision=self._revision)
        self.intake_id, self._revision, self._answers = draft.intake_id, draft.revision, dict(answers)

    def submit(self, answers: dict[str, Any], result: dict[str, Any]) -> Recorded:
        """Record the finished intake as a version; the draft goes in the same transaction.
        ``Conflict`` if someone recorded a version meanwhile."""
        if self.intake_id is None:
            self.save(answers)
        intake_id, version = self._store.record_assessment(answers, result, user=self._user,
                                                           intake_id=self.intake_id,
                                                           base_version=self.base_version, source="intake",
                                                           draft_revision=self._revision, language=self.language)
        self._revision = None
        return Recorded(intake_id, version, self._store.path)


def with_draft_months(store, rows: list) -> list:
    """Worklist rows, each draft's with the months from its answered fusion date to its assessment
    date, or to today while it has none (a patient's web draft gets its date when sent); the worklist
    table keeps months only from an assessed result, and `audit verify` checks it as stored. Read with ``Store.load_draft``, one query per draft
    on the page; a date that cannot be read leaves the row as it is (it is checked when assessed).
    `triage list` and the staff worklist page both show rows through this."""
    import dataclasses

    from triage.core.dates import PartialDate, parse_full_date, whole_months_between

    shown = []
    for row in rows:
        if row.version or row.months_since_fusion is not None:
            shown.append(row)
            continue
        draft = store.load_draft(row.intake_id)
        answers = draft.answers if draft is not None else {}
        fusion = answers.get("fusion_date")
        assessed = answers.get("assessment_date") or row.assessment_date or store.today()
        months = None
        if isinstance(fusion, str) and isinstance(assessed, str):
            try:
                day = parse_full_date(assessed)
                months = whole_months_between(PartialDate.parse(fusion).latest(not_after=day), day)
            except ValueError:
                pass
        shown.append(dataclasses.replace(row, months_since_fusion=months) if months is not None and months >= 0
                     else row)
    return shown
