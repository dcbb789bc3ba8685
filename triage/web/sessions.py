"""Server-side sessions: the browser holds only a random session id (HttpOnly, SameSite=Lax, Secure
behind https); what a session knows (which intake, the CSRF token, who signed in) stays in this
process. So signing out or an idle timeout ends a session for real, a new id is issued at sign-in
(no session fixation), and nothing about a patient ever sits in a cookie.

Kept in memory: a restart ends every session (patients come back with their code; drafts are in the
store, so no answer is lost). One process serves the app (waitress threads), so a lock suffices.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any, Callable

from flask import session as current_session
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

COOKIE = "triage_session"
MAX_SESSIONS = 20_000  # bound memory: beyond it the least recently used session is ended


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, sid: str | None = None, data: dict[str, Any] | None = None):
        def touched(_):
            self.modified = True

        super().__init__(data or {}, touched)
        self.sid = sid
        self.modified = False
        self.regenerate_requested = False
        self.ended_by_idle = False
        self.passive = False  # a request the page makes by itself (a poll): not activity
        self.last_seen: float | None = None

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


class ServerSessions(SessionInterface):
    """``idle_seconds(session_data) -> seconds`` decides each session's idle limit (patient and staff
    sessions differ). ``clock`` is injectable for tests."""

    def __init__(self, idle_seconds: Callable[[dict[str, Any]], float],
                 clock: Callable[[], float] = time.monotonic, max_sessions: int = MAX_SESSIONS,
                 kept_after_idle: tuple[str, ...] = ()):
        self._sessions: dict[str, tuple[dict[str, Any], float]] = {}
        self._lock = threading.Lock()
        self._idle = idle_seconds
        self._clock = clock
        self._max = max_sessions
        # Keys a session ended by idleness hands on to the new one (a preference such as the page
        # language, never who or which intake), so the page saying it ended is still readable.
        self._kept = kept_after_idle

    def __len__(self) -> int:
        return len(self._sessions)

    def open_session(self, app, request) -> ServerSession:
        sid = request.cookies.get(COOKIE)
        now = self._clock()
        with self._lock:
            entry = self._sessions.get(sid) if sid else None
            if entry is not None:
                data, last_seen = entry
                if now - last_seen > self._idle(data):
                    del self._sessions[sid]
                    session = ServerSession(data={key: data[key] for key in self._kept if key in data})
                    session.ended_by_idle = bool(data)
                    return session
                session = ServerSession(sid, dict(data))
                session.last_seen = last_seen
                return session
        return ServerSession()

    def save_session(self, app, session: ServerSession, response) -> None:
        secure = app.config.get("SESSION_COOKIE_SECURE", False)
        with self._lock:
            if session.sid and session.regenerate_requested:
                self._sessions.pop(session.sid, None)
                session.sid = None
            if not session:
                if session.sid:
                    self._sessions.pop(session.sid, None)
                if session.regenerate_requested or session.ended_by_idle:
                    response.delete_cookie(COOKIE, path="/", secure=secure, httponly=True, samesite="Lax")
                return
            if session.sid is None:
                session.sid = secrets.token_urlsafe(32)
                set_cookie = True
            else:
                set_cookie = False
            seen = session.last_seen if session.passive and session.last_seen is not None else self._clock()
            self._sessions[session.sid] = (dict(session), seen)
            if len(self._sessions) > self._max:
                self._evict()
        if set_cookie:
            # No max_age: a browser-session cookie; the server decides when it ends.
            response.set_cookie(COOKIE, session.sid, path="/", secure=secure, httponly=True, samesite="Lax")
        response.vary.add("Cookie")

    def _evict(self) -> None:
        now = self._clock()
        for sid, (data, last_seen) in list(self._sessions.items()):
            if now - last_seen > self._idle(data):
                del self._sessions[sid]
        while len(self._sessions) > self._max:  # still too many: the least recently seen go first
            oldest = min(self._sessions, key=lambda key: self._sessions[key][1])
            del self._sessions[oldest]

    def purge_idle(self) -> int:
        """End every idle session now (called now and then, so abandoned sessions do not pile up)."""
        now = self._clock()
        with self._lock:
            idle = [sid for sid, (data, seen) in self._sessions.items() if now - seen > self._idle(data)]
            for sid in idle:
                del self._sessions[sid]
        return len(idle)
