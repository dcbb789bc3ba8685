"""What every request handler needs (``Services``, built once per app by ``create_app`` in
triage/channels/web/app.py) and how a handler reaches it (``services()``). Its own module so that the
blueprints (triage.channels.web.patient, triage.channels.web.staff) import it, not the app that registers them."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable

from flask import current_app

from triage.core.languages import DEFAULT_LANGUAGE, PatientLanguage
from triage.core.questionnaire import Questionnaire
from triage.core.ruleset import Ruleset
from triage.core.settings import Settings
from triage.records.store import Store, open_store
from triage.channels.web import security
from triage.channels.web.messages import WebMessages
from triage.channels.web.sessions import ServerSessions


@dataclass
class Services:
    """What every request handler needs, built once per app."""

    store_path: Path | str  # a file, or a postgresql:// URL
    questionnaire: Questionnaire  # English, clinic settings filled in: staff pages and skip logic
    ruleset: Ruleset
    settings: Settings
    messages: WebMessages  # English
    # What a patient reads, by language: the questionnaire and rules' patient texts, and the pages' words.
    languages: dict[str, PatientLanguage]
    all_messages: dict[str, WebMessages]
    kiosk: bool
    today: Callable[[], date]
    sessions: ServerSessions
    code_limiter: security.Limiter  # wrong codes per address, and for everyone
    # Sign-in (see triage.channels.web.staff.sign_in_post): failures per address and for everyone from devices
    # not known; per account from devices not known; per known device.
    sign_in_limiter: security.Limiter
    account_limiter: security.Limiter
    device_limiter: security.Limiter
    kiosk_limiter: security.Limiter  # new kiosk intakes per address, and for everyone, per minute
    upload_limiter: security.Limiter  # files a patient uploads, per intake and per address
    clock: Callable[[], float] = time.time  # seconds: one-time codes' time steps (as the limits)
    pooled: bool = False  # a PostgreSQL store: connections from a pool, one per request
    _local: threading.local = field(default_factory=threading.local)
    _memo: dict[str, Any] = field(default_factory=dict)

    def store(self) -> Store:
        """The store for this request. PostgreSQL: a connection borrowed from the process's pool on
        first use in the request (checked before it is handed out) and given back when the request
        ends (``release_store``), so a database restart costs no request after it. SQLite: this
        thread's connection (opened on first use, kept for the thread's life)."""
        from flask import g, has_request_context

        if self.pooled and has_request_context():
            store = g.get("triage_store")
            if store is None:
                store = g.triage_store = open_store(self.store_path, pooled=True)
            return store
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = open_store(self.store_path)
        return store

    def release_store(self) -> None:
        """The end of a request: a borrowed connection goes back to the pool."""
        from flask import g

        store = g.pop("triage_store", None)
        if store is not None:
            _close(store)

    def forget_store(self) -> None:
        """Close and drop this request's or thread's connection (it failed): the next use gets a new
        one (a pool discards a connection that is broken when it comes back)."""
        from flask import has_request_context

        if self.pooled and has_request_context():
            self.release_store()
            return
        store = getattr(self._local, "store", None)
        self._local.store = None
        if store is not None:
            _close(store)

    def language(self) -> str:
        """The language of this request's patient pages: the one chosen in the patient's session
        (its invitation's, or the switch's); English on staff sessions and without a choice."""
        from flask import has_request_context, session

        if not has_request_context() or session.get("staff"):
            return DEFAULT_LANGUAGE
        chosen = session.get("lang")
        return chosen if chosen in self.languages else DEFAULT_LANGUAGE

    def patient(self) -> PatientLanguage:
        return self.languages[self.language()]

    def text(self, message_id: str, **values: object) -> str:
        return self.all_messages[self.language()].text(message_id, **values)


def _close(store: Store) -> None:
    try:
        store.close()
    except Exception:  # already broken; nothing more to do with it
        pass


def services() -> Services:
    return current_app.extensions["triage"]
