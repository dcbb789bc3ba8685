"""Server-side sessions, kept in the store: every `triage serve` process on the store sees them, and
they outlive a restart. The browser holds only a random session id (HttpOnly, SameSite=Lax; behind
https Secure with the ``__Host-`` name prefix, so no other host or insecure page can set it); the
store keeps only its SHA-256, with what the session knows (which intake, the CSRF token, who signed
in, under which account generation), when it started, was last seen and ends at the latest, and a
summary of the device. So signing out, an idle timeout or the lifetime ends a session for real, a new
id is issued at sign-in and when a code opens an intake (no session fixation), and nothing about a
patient ever sits in a cookie.

A session exists only once a patient's code opened an intake (``intake``) or staff signed in
(``staff``). Before that, the little a visitor's pages need (the CSRF token of the code and sign-in
forms, the chosen language, a code typed before switching language) is kept in the visitor's own
cookie, checked on the way in: a flood of anonymous requests writes nothing to the store and can end
no one's session (there is no cap that evicts sessions).

An invitation code the pages show again ("your code") is sealed in the stored session with a key
derived from the session id, which the store never holds: the store alone cannot give the code back.

Flask-Session was considered: it stores a pickled dict per id in its own table (SQLAlchemy) or Redis,
while this needs the store's interface on SQLite and PostgreSQL, columns the staff pages list and end
by account, the account generation checked on each request, and no row for visitors; a session
interface of ~200 lines over the store does that without another schema owner.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from dataclasses import replace
from typing import Any, Callable

from flask import request as current_request, session as current_session
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from triage.core.errors import StoreError
from triage.records.store import Store, WebSession

COOKIE = "triage_session"
VISITOR_COOKIE = "triage_visitor"
SECURE_PREFIX = "__Host-"  # behind https: Secure, Path=/, no Domain (RFC 6265bis)
# What a visitor's cookie may carry, with the longest value accepted (anything else is dropped).
VISITOR_KEYS: dict[str, tuple[type, int]] = {"csrf": (str, 64), "lang": (str, 8), "lang_chosen": (bool, 0),
                                             "carried_code": (str, 20)}
# A session exists only with one of these: an intake opened by its code, a signed-in member, or a
# member half-way through signing in (the password right, the one-time code not yet: its secret
# must stay on the server). A half-way session is kept as a patient-kind row (no account generation
# yet, the shorter idle time) and opens no staff page.
ESTABLISHED = ("intake", "staff", "pending_user")
_SID = re.compile(r"[A-Za-z0-9_-]{40,64}")
_SEAL_INFO = b"triage session: invitation code"
PURGE_BATCH = 500

log = logging.getLogger("triage.web.sessions")


def cookie_name(base: str, secure: bool) -> str:
    return SECURE_PREFIX + base if secure else base


def id_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("ascii")).hexdigest()


def _keystream(sid: str, length: int) -> bytes:
    stream = b""
    block = 0
    while len(stream) < length:
        stream += hmac.new(sid.encode("ascii"), _SEAL_INFO + bytes([block]), hashlib.sha256).digest()
        block += 1
    return stream[:length]


def seal(sid: str, text: str) -> str:
    """``text`` encrypted with a key only the session id gives (a one-time pad from HMAC-SHA256:
    each session id seals one code)."""
    raw = text.encode()
    return base64.urlsafe_b64encode(bytes(a ^ b for a, b in zip(raw, _keystream(sid, len(raw))))).decode()


def unseal(sid: str, sealed: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        return bytes(a ^ b for a, b in zip(raw, _keystream(sid, len(raw)))).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def device_summary(user_agent: str | None) -> str:
    """A few words a person recognises their device by ("Firefox on Linux"), never the whole string."""
    agent = user_agent or ""
    browser = next((name for token, name in (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
                                             ("Chrome/", "Chrome"), ("Chromium/", "Chromium"), ("Safari/", "Safari"))
                    if token in agent), "")
    system = next((name for token, name in (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
                                            ("Windows", "Windows"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"),
                                            ("Linux", "Linux")) if token in agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, sid: str | None = None, data: dict[str, Any] | None = None,
                 record: WebSession | None = None):
        def touched(_):
            self.modified = True

        super().__init__(data or {}, touched)
        self.sid = sid
        self.record = record  # the stored session, as opened (None: a visitor, or a new session)
        self.modified = False
        self.regenerate_requested = False
        self.ended_by_idle = False  # ended by idleness or its lifetime at this request
        self.passive = False  # a request the page makes by itself (a poll): not activity
        self.unavailable: StoreError | None = None  # the store could not be read (why): nothing is written back
        self.untracked = False  # a static file: no session is read or written
        self.stale_cookie = False  # a session cookie came that opens nothing: it is removed
        self.visitor_in: dict[str, Any] = {}

    @property
    def last_seen(self) -> float | None:
        return self.record.last_seen_at if self.record else None

    @property
    def id_sha256(self) -> str | None:
        return self.record.id_sha256 if self.record else None

    def regenerate(self) -> None:
        """Give this session a new id at the next response (at sign-in, and when a code is accepted)."""
        self.regenerate_requested = True
        self.modified = True

    def end(self) -> None:
        self.clear()
        self.regenerate_requested = True


def idle_stylesheet(idle_seconds: int):
    """The idle stylesheet of a page that shows health information (patient pages with an open intake,
    signed-in staff pages): without JavaScript nothing takes such a page off the screen when the
    server ends its idle session, so this covers it (``.idle-cover`` shown, the page's wrapper
    ``.idle-hidden-after`` hidden) when ``idle_seconds`` have passed since the page loaded. A CSS
    animation delay: no script, and no timed refresh (which WCAG and axe's meta-refresh rule forbid).
    A page whose script handles the idle end itself switches this off (class ``idle-script`` on the
    root element). Loaded by the page itself, so it is not activity."""
    current_session.passive = True
    return idle_rules(idle_seconds), 200, {"Content-Type": "text/css; charset=utf-8"}


def idle_rules(idle_seconds: int) -> str:
    """The rules of ``idle_stylesheet``, also inlined by the staff print view (whose policy allows no
    stylesheet but its own hashed style blocks)."""
    return (f".idle-cover {{ animation: idle-show 0s linear {idle_seconds}s forwards; }}\n"
            f".idle-hidden-after {{ animation: idle-hide 0s linear {idle_seconds}s forwards; }}\n"
            ".idle-script .idle-cover, .idle-script .idle-hidden-after { animation: none; }\n"
            "@keyframes idle-show { to { visibility: visible; } }\n"
            "@keyframes idle-hide { to { visibility: hidden; } }\n")


def _read_visitor(value: str | None) -> dict[str, Any]:
    """The visitor cookie's values that are what they should be; anything else is dropped."""
    if not value or len(value) > 400:
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(value.encode("ascii")))
    except (ValueError, UnicodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    kept = {}
    for key, (kind, longest) in VISITOR_KEYS.items():
        item = data.get(key)
        if isinstance(item, kind) and (kind is bool or len(item) <= longest):
            kept[key] = item
    return kept


def _write_visitor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode("ascii")


class ServerSessions(SessionInterface):
    """Sessions in the store. ``idle_seconds``: the idle limit of each kind ("patient", "staff");
    ``lifetime_seconds``: the absolute limit of any session; ``store``: this thread's store;
    ``clock``: seconds since the epoch (injectable for tests; shared by every process, so a wall
    clock). ``kept_after_idle``: keys a session ended by idleness hands on to the visitor (a
    preference such as the page language, never who or which intake), so the page saying it ended
    is still readable."""

    def __init__(self, store: Callable[[], Store], idle_seconds: dict[str, float], lifetime_seconds: float,
                 clock: Callable[[], float] = time.time, kept_after_idle: tuple[str, ...] = (),
                 forget_store: Callable[[], None] = lambda: None):
        self._store = store
        self._forget_store = forget_store  # drop this thread's connection after it failed
        self.idle_seconds = idle_seconds
        self.lifetime_seconds = lifetime_seconds
        self._clock = clock
        self._kept = kept_after_idle

    def is_null_session(self, obj: object) -> bool:
        return False

    def over(self, record: WebSession, now: float) -> str | None:
        """Why this stored session is over now ("idle", "lifetime", "account"), or None."""
        if record.kind == "staff" and record.account_generation != record.generation:
            return "account"  # disabled, password or role changed since sign-in
        if now >= record.expires_at:
            return "lifetime"
        if now - record.last_seen_at > self.idle_seconds[record.kind]:
            return "idle"
        return None

    def live(self, record: WebSession, generation: int) -> bool:
        """Whether a session listed for an account (whose generation is now ``generation``) still
        opens pages."""
        return self.over(replace(record, account_generation=generation), self._clock()) is None

    def open_session(self, app, request) -> ServerSession:
        secure = bool(app.config.get("SESSION_COOKIE_SECURE", False))
        visitor = _read_visitor(request.cookies.get(cookie_name(VISITOR_COOKIE, secure)))
        if app.static_url_path and request.path.startswith(app.static_url_path + "/"):
            session = ServerSession()  # static files: no session work at all
            session.untracked = True
            return session
        sid = request.cookies.get(cookie_name(COOKIE, secure))
        if not sid:
            session = ServerSession(data=visitor)
            session.visitor_in = dict(visitor)
            return session
        try:
            record = self._store().get_session(id_hash(sid)) if _SID.fullmatch(sid) else None
            if record is not None:
                why = self.over(record, self._clock())
                if why is not None:
                    self._store().end_session(record.id_sha256)
            else:
                why = None
        except StoreError as error:
            log.error("sessions: the store cannot be read: %s", error)
            self._forget_store()  # the next request opens a new connection (a database restart)
            session = ServerSession(data=visitor)
            session.unavailable = error
            return session
        if record is not None and why is None:
            data = dict(record.data)
            data["csrf"] = record.csrf
            if record.kind == "staff":
                data["generation"] = record.generation
            sealed = data.pop("code_sealed", None)
            if sealed:
                code = unseal(sid, sealed)
                if code is not None:
                    data["code"] = code
            session = ServerSession(sid, data, record)
            session.visitor_in = dict(visitor)
            return session
        kept = {key: record.data[key] for key in self._kept if key in record.data} if record else {}
        session = ServerSession(data={**visitor, **kept})
        session.visitor_in = dict(visitor)
        session.stale_cookie = True
        session.ended_by_idle = record is not None
        return session

    def save_session(self, app, session: ServerSession, response) -> None:
        if session.unavailable or session.untracked:
            return
        secure = bool(app.config.get("SESSION_COOKIE_SECURE", False))
        established = any(key in session for key in ESTABLISHED)
        if session.record is not None and (session.regenerate_requested or not established):
            self._store().end_session(session.record.id_sha256)
            session.record, session.sid = None, None
        names = {"path": "/", "secure": secure, "httponly": True, "samesite": "Lax"}
        if not established:
            if session.stale_cookie or session.regenerate_requested:
                response.delete_cookie(cookie_name(COOKIE, secure), **names)
            visitor = {key: session[key] for key in VISITOR_KEYS if key in session}
            visitor = _read_visitor(_write_visitor(visitor))  # only what a visitor cookie may hold
            if visitor != session.visitor_in:
                if visitor:
                    response.set_cookie(cookie_name(VISITOR_COOKIE, secure), _write_visitor(visitor), **names)
                else:
                    response.delete_cookie(cookie_name(VISITOR_COOKIE, secure), **names)
            response.vary.add("Cookie")
            return
        store = self._store()  # only now: a visitor's request never touches the store
        now = self._clock()
        data = dict(session)
        csrf = data.pop("csrf", None) or secrets.token_urlsafe(32)
        generation = data.pop("generation", 0) if "staff" in data else 0
        code = data.pop("code", None)
        if session.record is None:
            sid = secrets.token_urlsafe(32)
            if code:
                data["code_sealed"] = seal(sid, code)
            record = WebSession(id_hash(sid), "staff" if "staff" in data else "patient", data.get("staff"),
                                data.get("intake"), int(generation), csrf, data, now, now,
                                now + self.lifetime_seconds, device_summary(current_request.user_agent.string),
                                current_request.remote_addr or "-")
            store.create_session(record)
            session.sid, session.record = sid, record
            session["csrf"] = csrf
            response.set_cookie(cookie_name(COOKIE, secure), sid, **names)  # no max_age: the server decides
        else:
            if code:
                data["code_sealed"] = seal(session.sid, code)
            if session.modified:
                store.update_session(session.record.id_sha256, last_seen_at=session.record.last_seen_at
                                     if session.passive else now, csrf=csrf, data=data, intake_id=data.get("intake"))
            elif not session.passive and now != session.record.last_seen_at:
                store.update_session(session.record.id_sha256, last_seen_at=now)
        # A patient's visitor cookie keeps only their language: a page made while the store cannot be
        # read (503) is still in it. Nothing else of a session leaves the server.
        language = {"lang": session["lang"]} if session.get("lang") and "staff" not in session else {}
        if language != session.visitor_in:
            if language:
                response.set_cookie(cookie_name(VISITOR_COOKIE, secure), _write_visitor(language), **names)
            else:
                response.delete_cookie(cookie_name(VISITOR_COOKIE, secure), **names)
        response.vary.add("Cookie")

    def purge(self) -> int:
        """Remove a batch of sessions that are over (called now and then, so abandoned ones do not
        pile up; the rest go at later calls)."""
        return self._store().purge_sessions(self._clock(), self.idle_seconds, PURGE_BATCH)
