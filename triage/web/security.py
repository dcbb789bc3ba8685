"""What every page gets: CSRF tokens on forms, security headers, request size limits, a limiter
for wrong codes (and, for staff, wrong passwords). (HSTS and host names: triage.web.network; the
access log: triage.web.observability.)"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from typing import Callable

from flask import Flask, abort, request, session

CSRF_FIELD = "csrf_token"
# Blueprints whose every request carries its own credential (a signed bearer token, never a cookie):
# a forged cross-site request cannot borrow it, so CSRF tokens do not apply; they set their own body limit.
TOKEN_AUTHENTICATED = frozenset({"cds_hooks"})
MAX_BODY_BYTES = 64 * 1024  # the largest form is a few hundred bytes; anything bigger is refused (413)
TOKEN_BODY_BYTES = 2 * 1024 * 1024  # an upper bound for token-authenticated APIs (they enforce their own)

# No inline scripts or styles, nothing from elsewhere, no framing, forms post only to us.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}



def csrf_token() -> str:
    """This session's token (made on first use); every form carries it in a hidden field."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Refuse a state-changing request whose token is missing or not this session's (400), and one
    that says it comes from another site (the Origin header, when the browser sends it)."""
    from triage.web.network import expected_origin

    origin = request.headers.get("Origin")
    # The configured base URL's origin (not the Host header's) when there is one.
    if origin and origin != "null" and origin.rstrip("/") != expected_origin():
        abort(400)
    expected = session.get("csrf")
    given = request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        abort(400)


class Limiter:
    """At most ``limit`` failures per ``window`` seconds per key, and ``global_limit`` in all (so
    that many addresses, or a proxy that hides them, cannot multiply the guesses)."""

    def __init__(self, limit: int, window: float, global_limit: int,
                 clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.global_limit = limit, window, global_limit
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def _trim(self, times: deque[float], now: float) -> None:
        while times and now - times[0] > self.window:
            times.popleft()

    def blocked(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            self._trim(self._all, now)
            times = self._failures.get(key)
            if times is not None:
                self._trim(times, now)
                if not times:
                    del self._failures[key]
                    times = None
            return len(self._all) >= self.global_limit or (times is not None and len(times) >= self.limit)

    def failed(self, key: str) -> None:
        now = self._clock()
        with self._lock:
            self._failures.setdefault(key, deque()).append(now)
            self._all.append(now)
            if len(self._failures) > 10_000:  # forget the oldest keys rather than grow without bound
                for stale in list(self._failures)[:5_000]:
                    del self._failures[stale]

    @property
    def minutes(self) -> int:
        return max(1, round(self.window / 60))


def install(app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["MAX_FORM_MEMORY_SIZE"] = MAX_BODY_BYTES
    app.config["MAX_FORM_PARTS"] = 200
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["CSRF_FIELD"] = CSRF_FIELD

    @app.before_request
    def _start() -> None:
        if request.blueprint in TOKEN_AUTHENTICATED:
            request.max_content_length = TOKEN_BODY_BYTES
        elif request.method == "POST":
            check_csrf()

    @app.after_request
    def _headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.path.startswith("/static/"):
            # Pages may show health information: never kept by the browser or a proxy.
            response.headers["Cache-Control"] = "no-store"
        return response
