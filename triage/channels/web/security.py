"""What every page gets: CSRF tokens on forms, security headers, request size limits, a limiter
for wrong codes (and, for staff, wrong passwords). (HSTS and host names: triage.channels.web.network; the
access log: triage.channels.web.observability.)"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from typing import Any, Callable

from flask import Flask, abort, request, session

CSRF_FIELD = "csrf_token"
# Blueprints whose every request carries its own credential (a signed bearer token, never a cookie):
# a forged cross-site request cannot borrow it, so CSRF tokens do not apply; they set their own body limit.
TOKEN_AUTHENTICATED = frozenset({"cds_hooks"})
# The pages that take files (multipart forms): their body limit is the upload settings' (create_app).
# staff.record_action: the receive form's copies of the record (its other actions post a few fields).
UPLOAD_ENDPOINTS = frozenset({"patient.upload", "staff.record_action"})
MAX_BODY_BYTES = 64 * 1024  # the largest form is a few hundred bytes; anything bigger is refused (413)
TOKEN_BODY_BYTES = 2 * 1024 * 1024  # an upper bound for token-authenticated APIs (they enforce their own)
UPLOAD_FORM_MEMORY_BYTES = 1024 * 1024  # an upload form's text fields, and the parser's buffer (files go to disk)

# No inline scripts or styles, nothing from elsewhere, no framing, forms post only to us.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on our own form
    # posts, and a check that must let null through checks nothing (any page elsewhere can send null
    # by choosing no-referrer for itself). The Referer goes only to this server (never to another
    # site), and neither the access log nor the shipped nginx log format records it.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

# No parameter of any page holds a control character (nothing a person types in a one-line box, or
# that a link of ours carries): one is a forged request (a line break in `next` would split a header).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


FORM_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")  # a pasted tab is typing


def has_control_characters() -> bool:
    """The path, a query parameter or (for a form) a form field holds a control character."""
    if CONTROL_CHARACTERS.search(request.path):
        return True
    if any(CONTROL_CHARACTERS.search(key) or CONTROL_CHARACTERS.search(value)
           for key, value in request.args.items(multi=True)):
        return True
    if request.method == "POST" and request.blueprint not in TOKEN_AUTHENTICATED:
        return any(FORM_CONTROL_CHARACTERS.search(key) or FORM_CONTROL_CHARACTERS.search(value)
                   for key, value in request.form.items(multi=True))
    return False


def csrf_token() -> str:
    """This session's token (made on first use); every form carries it in a hidden field."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


# Blueprints whose posts must name our origin: "Origin: null" is refused there. Our own pages send the
# real origin (Referrer-Policy: same-origin), so null comes from a page elsewhere that hides where it
# is (its own no-referrer policy, a sandboxed frame, a data: URL). The patient's pages still accept
# null: a kiosk or phone browser with unusual privacy settings must not lock a patient out, and there
# is no account to take over (the token and the SameSite cookie protect an intake).
ORIGIN_REQUIRED = frozenset({"staff"})


def check_csrf() -> None:
    """Refuse a state-changing request whose token is missing or not this session's (400), and one
    that says it comes from another site (the Origin header, when the browser sends it; on staff
    pages "null" too)."""
    from triage.channels.web.network import expected_origin

    origin = request.headers.get("Origin")
    # The configured base URL's origin (not the Host header's) when there is one.
    if origin == "null":
        if request.blueprint in ORIGIN_REQUIRED:
            abort(400)
    elif origin and origin.rstrip("/") != expected_origin():
        abort(400)
    expected = session.get("csrf")
    given = request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        abort(400)


class Limiter:
    """At most ``limit`` per ``window`` seconds per key, counted in the store so that every web process
    (and a restart) sees the same counts, and added to atomically (``Store.count_hit``): two requests
    at once never both slip under a limit. Fixed windows of the clock (a quarter hour: 10:00, 10:15...),
    so a block ends by the next window at the latest, as the pages say; at a window's edge a guesser
    can get up to twice the limit in a row, which the limits allow for.

    Two ways to use it. ``take(key)`` counts an attempt *before* it is made and says whether it may
    be made (what the sign-in and code pages do: a burst of concurrent guesses gets exactly the
    allowed number checked); ``give_back(key)`` uncounts it (a right password, a valid code).
    ``blocked(key)`` / ``failed(key)`` look first and count a failure after (simple, but two requests
    at once may both pass). ``global_limit`` counts every key together under ``EVERYONE``."""

    EVERYONE = "*"

    def __init__(self, name: str, *, limit: int, window: float, store: Callable[[], Any],
                 global_limit: int | None = None, clock: Callable[[], float] = time.time):
        self.name, self.limit, self.window, self.global_limit = name, limit, window, global_limit
        self._store = store
        self._clock = clock

    def _key(self, key: str) -> str:
        return f"{self.name}:{key}"

    def _window(self) -> int:
        width = int(self.window)
        return int(self._clock() // width) * width

    def _count(self, key: str, by: int) -> int:
        start = self._window()
        return self._store().count_hit(self._key(key), start, start + int(self.window), by=by)

    def estimate(self, key: str) -> int:
        """How many were counted for ``key`` in this window."""
        start = self._window()
        return self._store().hits(self._key(key), (start,)).get(start, 0)

    def reached(self, key: str, limit: int | None = None) -> bool:
        return self.estimate(key) >= (self.limit if limit is None else limit)

    def take(self, key: str, limit: int | None = None) -> bool:
        """Count one attempt for ``key`` now; False (and nothing counted) if it would pass the limit."""
        if self._count(key, 1) > (self.limit if limit is None else limit):
            self._count(key, -1)
            return False
        return True

    def give_back(self, key: str) -> None:
        self._count(key, -1)

    def add(self, key: str) -> int:
        """Count one for ``key`` whatever the limit; the new count."""
        return self._count(key, 1)

    def clear(self, key: str) -> None:
        self._store().clear_hits(self._key(key))

    def first_in_window(self, key: str) -> bool:
        """True once per window for ``key`` (so that a refusal is audited once, however many follow:
        an attacker cannot flood the audit log)."""
        start = self._window()
        return self._store().count_hit(self._key(f"once:{key}"), start, start + int(self.window)) == 1

    def everyone_reached(self) -> bool:
        return self.global_limit is not None and self.reached(self.EVERYONE, self.global_limit)

    def blocked(self, key: str) -> bool:
        """``key``'s limit, or the limit for everyone, is reached."""
        return self.reached(key) or self.everyone_reached()

    def failed(self, key: str) -> None:
        """One failure for ``key`` (and for everyone)."""
        self.add(key)
        if self.global_limit is not None:
            self.add(self.EVERYONE)

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
        if request.endpoint in UPLOAD_ENDPOINTS and request.method == "POST":
            # Files: the body limit the settings allow, set before anything reads the form. The form
            # parser's memory limit also bounds what it holds while it looks for the end of a file: at
            # 64 KiB a real photo (detail that does not compress) was refused past about 100 KB.
            request.max_content_length = app.config.get("TRIAGE_UPLOAD_BODY_BYTES", MAX_BODY_BYTES)
            request.max_form_memory_size = UPLOAD_FORM_MEMORY_BYTES
        # First of all, before any page acts: a refused request changes nothing.
        if has_control_characters():
            abort(400)
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
