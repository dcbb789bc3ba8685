"""Where an intake's answers are kept while it is under way.

`triage intake` talks to a store through ``save(answers)`` / ``load()`` only, so a database-backed
store (drafts) can replace the answers file without touching the interview. The file store writes the
answers-contract JSON object and nothing else (no progress bookkeeping: `triage assess` rejects
unknown keys, and the position is recomputed from the answers on resume).
"""

from __future__ import annotations

import json
import os
import shlex
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from triage.answers import QUESTION_IDS
from triage.errors import InvalidInput, Problem
from triage.files import read_answers_file, write_atomic


class AnswersStore(Protocol):
    def load(self) -> dict[str, Any]:
        """The raw answers object saved so far (validated by the caller)."""

    def save(self, answers: dict[str, Any]) -> None:
        """Durably replace the saved answers; raises InvalidInput when that is impossible."""

    @property
    def where(self) -> str:
        """Names the saved answers for people (a file name)."""

    def resume_option(self) -> str:
        """The command-line option that continues this intake (``--resume FILE``)."""


class AnswersFile:
    """An answers-contract JSON file, rewritten atomically (write_atomic) after every answer."""

    def __init__(self, path: Path):
        self.path = Path(path)

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

    def resume_option(self) -> str:
        return f"--resume {shlex.quote(str(self.path))}"


def default_answers_path(now: datetime, folder: Path = Path(".")) -> Path:
    """``intake-2026-11-24-0932.json`` in the current folder; never an existing file."""
    stem = f"intake-{now:%Y-%m-%d-%H%M}"
    candidate = folder / f"{stem}.json"
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{number}.json"
        number += 1
    return candidate
