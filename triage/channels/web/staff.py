"""The staff pages under /staff/: sign-in, the worklist, the clinician's summary and its print view,
inviting a patient, attaching a patient reference to a kiosk intake, and red-flag alerts.

Every page needs a signed-in account (else: the sign-in page); roles decide the rest: coordinators
and clinicians both see the worklist, summaries and alerts; only coordinators invite and attach; only
clinicians acknowledge red flags. Every view, print, acknowledgement and worklist is an audit row
(who, what, when; never an answer value). Staff pages are in English (PRODUCT.md).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import re
import secrets
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, g, jsonify, make_response, redirect, render_template, request, session, url_for

from triage.records import accounts, invites
from triage.records.drafts import with_draft_months
from triage.records.uploads import added_words
from triage.core.languages import DEFAULT_LANGUAGE, LANGUAGES
from triage.core.answers import RED_FLAGS, parse_answers
from triage.decision.assess import assess
from triage.core.errors import Conflict, IntakeNotFound, InvalidInput, SecondFactorUnavailable, StoreError
from triage.channels.render.labels import BANNERS, STEP_MARKS, in_words, rules_by_conclusion
from triage.decision.result import Result
from triage.core.result_values import MISSING_IDS, RED_FLAG_TIERS, URGENCY_WORDS, WORKLIST_STATUSES
from triage.records.store import (ACKNOWLEDGED, EXPORTED, GUEST_USER, LISTED, PASSWORD_CHANGED, PASSWORD_REHASHED,
                          SESSIONS_ENDED, SIGN_IN_FAILED, SIGN_IN_LOCKED, SIGN_IN_THROTTLED, SIGNED_IN, SIGNED_OUT,
                          VIEWED, User)
from triage.channels.web import security
from triage.channels.web.services import services
from triage.channels.web.network import public_url
from triage.channels.web.sessions import idle_rules, idle_stylesheet

blueprint = Blueprint("staff", __name__, url_prefix="/staff")

PAGE_SIZE = 50
# The idle stylesheet is open too: it holds only the idle minutes (the sign-in page says them), and a
# signed-in page must get it even if the session ended between the page and its stylesheet.
OPEN = frozenset({"staff.sign_in", "staff.sign_in_post", "staff.idle_css", "staff.second_factor",
                  "staff.second_factor_post", "staff.second_factor_setup", "staff.second_factor_setup_post",
                  "staff.second_factor_qr"})
URGENCY_ORDER = ("emergency", "same_day", "soon", "routine")


# --- who is signed in --------------------------------------------------------------------------------

def _signed_in() -> User | None:
    name = session.get("staff")
    if not name:
        return None
    user = services().store().get_user(name)
    if user is None or user.disabled or user.role != session.get("role"):
        session.end()  # disabled or changed since sign-in: the session ends now
        return None
    return user


@blueprint.before_request
def _gate():
    if request.endpoint in OPEN:
        return None
    user = _signed_in()
    if user is None:
        if request.endpoint == "staff.alert_counts":
            return jsonify({"signed_in": False}), 401
        target = request.full_path if request.method == "GET" else url_for("staff.worklist")
        return redirect(url_for("staff.sign_in", next=target.rstrip("?")), code=303)
    g.user = user
    return None


def role(required: str):
    """Only accounts of this role; others get a plain 403 page."""
    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            if g.user.role != required:
                return _page("staff/forbidden.html", title="Not available to your role", required=required), 403
            return view(*args, **kwargs)
        return inner
    return wrap


def _page(template: str, **context):
    svc = services()
    user = g.get("user")
    counts = svc.store().alert_counts() if user else {}
    from triage.channels.render.labels import ASK_NOW

    return render_template(template, user=user, alert_counts=counts, ask_now=ASK_NOW, staff_idle=svc.settings.staff_idle_minutes,
                           q=svc.questionnaire, this_page=_this_page(), **context)


def _this_page() -> str:
    """Where the idle cover's link goes: this page again (a page a form led to: the worklist, as at
    sign-in)."""
    return request.full_path.rstrip("?") if request.method == "GET" else url_for("staff.worklist")


def _safe_next(target: str | None) -> str:
    if (target and target.startswith("/staff/") and not target.startswith("//") and "\\" not in target
            and not security.CONTROL_CHARACTERS.search(target)):
        return target
    return url_for("staff.worklist")


# --- sign-in ----------------------------------------------------------------------------------------

@blueprint.get("/sign-in")
def sign_in():
    if _signed_in() is not None:
        return redirect(_safe_next(request.args.get("next")), code=303)
    return _page("staff/sign_in.html", title="Sign in", error=None, name="", next=request.args.get("next", ""))


# Guessing passwords is limited without letting anyone lock the clinic out (OWASP's "device cookies"):
# a browser that has signed in to an account gets a device cookie; its attempts at that account are
# counted for that device alone (5 failures per 15 minutes). Attempts from anywhere else are counted
# per address (20), for everyone together (100) and per account name (5), each per 15 minutes. So
# guessing from elsewhere can block an account only on devices it never signed in from, and the
# right password from a known device lifts that block. Every count is taken before the password is
# checked (atomically, in the store): concurrent guesses get exactly the allowed number checked.
DEVICE_COOKIE = "triage_device"
DEVICE_TOKENS_KEPT = 5  # accounts remembered per browser (a shared clinic computer)
DEVICE_COOKIE_DAYS = 180
THROTTLED_MESSAGE = ("Too many attempts. Wait 15 minutes, or sign in from a computer you have signed in "
                     "from before, or ask an administrator.")


def _device_tokens() -> list[str]:
    raw = request.cookies.get(DEVICE_COOKIE, "")
    return [token for token in raw.split(".") if re.fullmatch(r"[A-Za-z0-9_-]{32,64}", token)][:DEVICE_TOKENS_KEPT]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _sign_in_limits(name: str, client: str, device: str | None):
    """The counters an attempt is taken from: (limiter, key, limit, what it limits)."""
    svc = services()
    if device is not None:
        return [(svc.device_limiter, device, svc.device_limiter.limit, "device")]
    return [(svc.sign_in_limiter, client, svc.sign_in_limiter.limit, "address"),
            (svc.sign_in_limiter, svc.sign_in_limiter.EVERYONE, svc.sign_in_limiter.global_limit, "everyone"),
            (svc.account_limiter, name or "-", svc.account_limiter.limit, "account")]


@blueprint.post("/sign-in")
def sign_in_post():
    svc = services()
    name = request.form.get("name", "").strip().lower()[:64]
    password = request.form.get("password", "")[:accounts.MAX_PASSWORD + 1]
    following = request.form.get("next", "")
    client = request.remote_addr or "-"
    store = svc.store()
    user = store.get_user(name) if name else None
    # Who was targeted: an account's name; a name that is no account is not kept (it may be a
    # password typed in the wrong box).
    detail = {"name": user.name if user else None, "address": client}
    tokens = _device_tokens()
    device = store.known_device(user.name, [_token_hash(t) for t in tokens]) if user else None
    detail["known_device"] = device is not None
    taken = []
    for limiter, key, limit, what in _sign_in_limits(name, client, device):
        if not limiter.take(key, limit):
            for done, done_key, _, _ in taken:
                done.give_back(done_key)
            if limiter.first_in_window(key):
                store.audit_event(SIGN_IN_THROTTLED, user=GUEST_USER, detail={**detail, "limit": what})
            return _page("staff/sign_in.html", title="Sign in", name=name, next=following,
                         error=THROTTLED_MESSAGE), 429
        taken.append((limiter, key, limit, what))
    ok = accounts.verify_password(user.password_hash, password) if user else accounts.verify_nobody(password)
    if not ok or user is None or user.disabled:
        reason = "unknown_name" if user is None else "disabled" if ok else "wrong_password"
        store.audit_event(SIGN_IN_FAILED, user=GUEST_USER, detail={**detail, "reason": reason})
        for limiter, key, limit, what in taken:
            if limiter.reached(key, limit):  # this failure used the last try: blocked from now on
                store.audit_event(SIGN_IN_LOCKED, user=GUEST_USER, detail={**detail, "limit": what})
        return _page("staff/sign_in.html", title="Sign in", name=name, next=following,
                     error="The user name or password is not right."), 400
    for limiter, key, _, _ in taken:  # the limits count failures: a right password is not one
        limiter.give_back(key)
    if accounts.needs_rehash(user.password_hash):
        store.update_user(user.name, by=user.name, password_hash=accounts.hash_password(password),
                          action=PASSWORD_REHASHED)
    try:
        factor = store.second_factor(user.name)
    except SecondFactorUnavailable as unavailable:
        return _factor_unavailable(user, unavailable, following)
    if factor is None and svc.settings.staff_second_factor == "off":
        _complete_sign_in(user)
        return _remember_device(redirect(_safe_next(following), code=303), user)
    # The password was right: the second factor next (set up now if the account has none yet). The
    # session knows only who is half-way; no staff page opens until the code is right.
    session.clear()
    session.regenerate()
    session["pending_user"], session["pending_next"] = user.name, following
    if factor is None:
        session["pending_secret"] = accounts.new_totp_secret()  # server-side session: never in a cookie
        return redirect(url_for("staff.second_factor_setup"), code=303)
    return redirect(url_for("staff.second_factor"), code=303)


log = logging.getLogger("triage.web")
FACTOR_UNAVAILABLE_MESSAGE = ("Your sign-in code cannot be checked on this server just now, so you cannot sign in "
                              "here. Please tell your administrator.")


def _factor_unavailable(user: User, unavailable: SecondFactorUnavailable, following: str):
    """The account's second factor is sealed with a key this server does not hold (or was altered):
    never a pass without it, never a 500. A plain page for the member, a line for the administrator
    (which account, which key id; never the secret) and an audit row like any refused sign-in."""
    audited = ""
    try:
        services().store().audit_event(SIGN_IN_FAILED, user=GUEST_USER, detail={
            "name": user.name, "address": request.remote_addr or "-", "reason": "second_factor_unavailable"})
    except StoreError as error:  # a keyed audit chain cannot be continued without its key either
        audited = f" (not audited: {error})"
    log.warning("sign-in refused: %s%s", unavailable, audited)
    _drop_pending()
    return _page("staff/sign_in.html", title="Sign in", name=user.name, next=following,
                 error=FACTOR_UNAVAILABLE_MESSAGE), 503


def _complete_sign_in(user: User) -> None:
    store = services().store()
    services().account_limiter.clear(user.name)  # signed in: lifts the block on other devices' tries
    session.clear()
    session.regenerate()  # a new session id at sign-in: no session fixation
    session["staff"], session["role"] = user.name, user.role
    session["generation"] = user.session_generation  # a later reset, disable or role change ends it
    store.log_access(SIGNED_IN, user=user.name)


def _remember_device(response, user: User):
    """This browser is now a known device of ``user`` (see DEVICE_COOKIE)."""
    store = services().store()
    tokens = _device_tokens()
    device = store.known_device(user.name, [_token_hash(t) for t in tokens])
    if device is not None:
        store.add_known_device(device, user.name)  # last used
        return response
    token = secrets.token_urlsafe(32)
    store.add_known_device(_token_hash(token), user.name)
    response.set_cookie(DEVICE_COOKIE, ".".join([token, *tokens][:DEVICE_TOKENS_KEPT]), path="/staff/",
                        max_age=DEVICE_COOKIE_DAYS * 24 * 3600, secure=current_app.config["SESSION_COOKIE_SECURE"],
                        httponly=True, samesite="Strict")
    return response


# --- the second factor: a one-time code from an authenticator app -----------------------------------

def _pending() -> tuple[User, str] | None:
    """Who passed the password step in this session (and is still allowed), and where they go next."""
    name = session.get("pending_user")
    user = services().store().get_user(name) if name else None
    if user is None or user.disabled:
        return None
    return user, session.get("pending_next", "")


def _drop_pending() -> None:
    for key in ("pending_user", "pending_next", "pending_secret"):
        session.pop(key, None)


def _code_refused(user: User):
    """Count this try at the account's codes (5 wrong per 15 minutes), or the refusal page."""
    limiter, key = services().account_limiter, f"totp:{user.name}"
    if limiter.take(key):
        return None
    if limiter.first_in_window(key):
        services().store().audit_event(SIGN_IN_THROTTLED, user=GUEST_USER, detail={
            "name": user.name, "address": request.remote_addr or "-", "limit": "second_factor"})
    return THROTTLED_MESSAGE


def _code_failed(user: User) -> None:
    limiter, key = services().account_limiter, f"totp:{user.name}"
    detail = {"name": user.name, "address": request.remote_addr or "-"}
    store = services().store()
    store.audit_event(SIGN_IN_FAILED, user=GUEST_USER, detail={**detail, "reason": "wrong_second_factor"})
    if limiter.reached(key):
        store.audit_event(SIGN_IN_LOCKED, user=GUEST_USER, detail={**detail, "limit": "second_factor"})


@blueprint.get("/second-factor")
def second_factor():
    if _pending() is None:
        return redirect(url_for("staff.sign_in"), code=303)
    return _page("staff/second_factor.html", title="Enter your code", error=None)


@blueprint.post("/second-factor")
def second_factor_post():
    pending = _pending()
    try:
        factor = services().store().second_factor(pending[0].name) if pending else None
    except SecondFactorUnavailable as unavailable:  # the key file changed since the password step
        return _factor_unavailable(pending[0], unavailable, pending[1])
    if pending is None or factor is None:
        _drop_pending()
        return redirect(url_for("staff.sign_in"), code=303)
    user, following = pending
    refused = _code_refused(user)
    if refused:
        return _page("staff/second_factor.html", title="Enter your code", error=refused), 429
    store = services().store()
    typed = request.form.get("code", "").strip()[:40]
    step = accounts.totp_matches(factor[0], typed, services().clock())
    ok = step is not None and store.use_totp_step(user.name, step)  # a code works once
    left = None
    if not ok and step is None:
        digest = accounts.recovery_hash(user.name, typed)
        left = store.use_recovery_code(user.name, digest, detail={"address": request.remote_addr or "-"}) \
            if digest else None
        ok = left is not None
    if not ok:
        _code_failed(user)
        return _page("staff/second_factor.html", title="Enter your code",
                     error="The code is not right. Enter the code your app shows now, or a recovery code."), 400
    services().account_limiter.clear(f"totp:{user.name}")
    _complete_sign_in(user)
    return _remember_device(redirect(_safe_next(following), code=303), user)


@blueprint.get("/second-factor/setup")
def second_factor_setup():
    pending = _pending()
    if pending is None or not session.get("pending_secret"):
        return redirect(url_for("staff.sign_in"), code=303)
    return _setup_page(pending[0], None)


def _setup_page(user: User, error: str | None, status: int = 200):
    secret = session["pending_secret"]
    return _page("staff/second_factor_setup.html", title="Set up your sign-in code", error=error, secret=secret,
                 secret_groups=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
                 uri=accounts.totp_uri(secret, user.name)), status


@blueprint.get("/second-factor/setup/qr.svg")
def second_factor_qr():
    """The setup key's otpauth:// link as a QR code, for the phone's camera (only for the session
    that is setting it up; never cached)."""
    import io

    import segno

    pending = _pending()
    secret = session.get("pending_secret")
    if pending is None or not secret:
        abort(404)
    image = io.BytesIO()
    segno.make(accounts.totp_uri(secret, pending[0].name), error="M").save(
        image, kind="svg", scale=5, border=4, dark="#000", light="#fff", xmldecl=False,
        title="QR code of the setup key")
    return image.getvalue(), 200, {"Content-Type": "image/svg+xml"}


@blueprint.post("/second-factor/setup")
def second_factor_setup_post():
    pending = _pending()
    secret = session.get("pending_secret")
    if pending is None or not secret:
        _drop_pending()
        return redirect(url_for("staff.sign_in"), code=303)
    user, following = pending
    refused = _code_refused(user)
    if refused:
        return _setup_page(user, refused, 429)
    step = accounts.totp_matches(secret, request.form.get("code", "").strip()[:40], services().clock())
    if step is None:
        _code_failed(user)
        return _setup_page(user, "The code is not right. Check the key you typed, then enter the code your app "
                                 "shows now.", 400)
    codes = accounts.new_recovery_codes()
    if not services().store().enroll_second_factor(user.name, secret, step,
                                                   [accounts.recovery_hash(user.name, code) for code in codes]):
        _drop_pending()  # set up meanwhile in another browser: sign in again with that one
        return redirect(url_for("staff.sign_in"), code=303)
    services().account_limiter.clear(f"totp:{user.name}")
    _complete_sign_in(user)
    g.user = user
    page = _page("staff/recovery_codes.html", title="Your recovery codes", codes=codes, following=_safe_next(following))
    return _remember_device(make_response(page), user)


# --- the signed-in member's own password ------------------------------------------------------------

PASSWORD_FIELDS = (
    ("current_password", "Current password", None, "current-password"),
    ("new_password", "New password", f"At least {accounts.MIN_PASSWORD} characters. A few unrelated words make a "
     "good password; common ones are refused.", "new-password"),
    ("new_password_again", "New password again", None, "new-password"),
)


def _password_page(error: tuple[str, str] | None = None, changed: bool = False, status: int = 200):
    return _page("staff/password.html", title="Change your password", error=error, changed=changed,
                 fields=PASSWORD_FIELDS), status


@blueprint.get("/password")
def password():
    return _password_page()


@blueprint.post("/password")
def password_post():
    """Change one's own password: the current one first (counted like sign-in attempts, so a
    session left open cannot be used to guess it), then the new one as `triage users` checks it."""
    svc = services()
    store = svc.store()
    user = g.user
    current = request.form.get("current_password", "")[:accounts.MAX_PASSWORD + 1]
    new = request.form.get("new_password", "")
    again = request.form.get("new_password_again", "")
    limiter, key = svc.account_limiter, f"change:{user.name}"
    if not limiter.take(key):
        if limiter.first_in_window(key):
            store.audit_event(SIGN_IN_THROTTLED, user=user.name, detail={"name": user.name, "address":
                                                                         request.remote_addr or "-",
                                                                         "limit": "password_change"})
        return _password_page(("current_password", THROTTLED_MESSAGE), status=429)
    if not accounts.verify_password(user.password_hash, current):
        store.audit_event(SIGN_IN_FAILED, user=user.name, detail={"name": user.name, "address":
                                                                  request.remote_addr or "-",
                                                                  "reason": "wrong_current_password"})
        return _password_page(("current_password", "The current password is not right"), status=400)
    limiter.give_back(key)
    problem = accounts.check_password(new, user.name)
    if problem:
        return _password_page(("new_password", f"New password: {problem}"), status=400)
    if new == current:
        return _password_page(("new_password", "New password: use a password other than the current one"), status=400)
    if again != new:
        return _password_page(("new_password_again", "Enter the same new password twice"), status=400)
    # The account's other sessions end (its generation goes up); this one goes on under a new id.
    store.update_user(user.name, by=user.name, password_hash=accounts.hash_password(new), action=PASSWORD_CHANGED,
                      keep_session=session.id_sha256)
    session["generation"] = store.get_user(user.name).session_generation
    session.regenerate()
    return _password_page(changed=True)


@blueprint.post("/sign-out")
def sign_out():
    """Ends this session only (the account's others go on: the sessions page ends them)."""
    services().store().log_access(SIGNED_OUT, user=g.user.name)
    session.end()
    return redirect(url_for("staff.sign_in", signed_out="1"), code=303)


# --- your settings: the alert sound ---------------------------------------------------------------

# A staff member's own choice, kept with the account in the store so that it follows the person to
# any computer. Off until they turn it on: the banner and the title's count show every new red flag
# anyway, and an unasked-for sound on a shared ward computer would startle patients nearby.
ALERT_SOUND_CHOICES = {"off": False, "on": True}


@blueprint.get("/settings")
def settings():
    saved = request.args.get("saved")
    return _page("staff/settings.html", title="Your settings", sound=g.user.alert_sound,
                 saved=saved if saved in ALERT_SOUND_CHOICES else None)


@blueprint.post("/settings")
def settings_post():
    choice = request.form.get("alert_sound", "")
    if choice not in ALERT_SOUND_CHOICES:
        abort(400)  # only the two radios send this: anything else is a forged form
    # No audit row: a preference changes what this person's own browser plays, never what anyone may
    # see or do, nor any record; the banner and the title's count are there with or without it.
    services().store().set_alert_sound(g.user.name, ALERT_SOUND_CHOICES[choice])
    return redirect(url_for("staff.settings", saved=choice), code=303)


# --- your sessions ------------------------------------------------------------------------------------

def _moment(seconds: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@blueprint.get("/sessions")
def sessions():
    """Where this account is signed in (device, address, started, last seen), this one first; the
    others can be ended here (a lost phone, a shared computer left signed in)."""
    svc = services()
    here = session.id_sha256
    rows = [{"id": record.id_sha256, "device": record.device, "address": record.address,
             "started": _moment(record.created_at), "seen": _moment(record.last_seen_at),
             "current": record.id_sha256 == here}
            for record in svc.store().user_sessions(g.user.name) if svc.sessions.live(record, g.user.session_generation)]
    rows.sort(key=lambda row: not row["current"])
    ended = request.args.get("ended", "")
    return _page("staff/sessions.html", title="Your sessions", rows=rows,
                 ended=int(ended) if ended.isascii() and ended.isdigit() and len(ended) < 4 else None)


@blueprint.post("/sessions/end")
def end_sessions():
    """End one other session of this account (``session``), or all the others (``others``); never
    this one (sign out does that)."""
    store = services().store()
    chosen = request.form.get("session", "")
    if request.form.get("others") == "1":
        count = store.end_user_sessions(g.user.name, keep=session.id_sha256)
    elif re.fullmatch(r"[0-9a-f]{64}", chosen):
        count = store.end_user_sessions(g.user.name, keep=session.id_sha256, only=chosen)
    else:
        abort(400)
    if count:
        store.log_access(SESSIONS_ENDED, user=g.user.name, detail={"sessions": count})
    return redirect(url_for("staff.sessions", ended=count), code=303)


# --- worklist ---------------------------------------------------------------------------------------

_CURSOR = re.compile(r"(\d{1,4})\.(\d{1,18})")


def _cursor(name: str) -> tuple[int, int] | None:
    """A worklist position ("RANK.INTAKE", the last row shown) from the query string; 400 if malformed."""
    value = request.args.get(name)
    if not value:
        return None
    match = _CURSOR.fullmatch(value)
    if match is None:
        abort(400)
    return int(match.group(1)), int(match.group(2))


@blueprint.get("/")
def worklist():
    store = services().store()
    status = request.args.get("status") or None
    missing = request.args.get("missing") or None
    urgency = request.args.get("urgency") or None
    if (status not in (None, *WORKLIST_STATUSES) or missing not in (None, *MISSING_IDS)
            or urgency not in (None, *RED_FLAG_TIERS)):
        abort(400)
    after, before = _cursor("after"), _cursor("before")
    if after and before:
        abort(400)
    # One indexed page of the worklist table, in `triage list`'s order, from the position of the row
    # before it (keyset: no offset to count through) and counts kept with the table: as fast at
    # 100,000 intakes as at 1,000.
    shown = store.worklist_page(status=status, missing=missing, urgency=urgency, limit=PAGE_SIZE,
                                after=after, before=before)
    if not shown.rows and (after or before):  # past the end (the list shrank): the first page
        return redirect(_worklist_link(status, missing, urgency), code=303)
    if request.headers.get("X-Triage-Refresh") == "rows":
        session.passive = True  # the page's script after a new alert: not activity, the idle time still runs
    store.log_access(LISTED, user=g.user.name, detail={"rows": len(shown.rows), "channel": "web"})
    overdue, overdue_total, overdue_intakes = _overdue_requests([row.intake_id for row in shown.rows])
    counts = {s: shown.counts.get(s, 0) for s in WORKLIST_STATUSES}
    first, last = (shown.rows[0], shown.rows[-1]) if shown.rows else (None, None)
    pages = {
        "first": _worklist_link(status, missing, urgency) if shown.more_before else None,
        "previous": (_worklist_link(status, missing, urgency, before=f"{first.rank}.{first.intake_id}")
                     if shown.more_before else None),
        "next": (_worklist_link(status, missing, urgency, after=f"{last.rank}.{last.intake_id}")
                 if shown.more_after else None),
    }
    return _page("staff/worklist.html", title="Worklist", rows=with_draft_months(store, shown.rows), total=shown.shown,
                 total_at_least=shown.shown_at_least, pages=pages, status=status, missing=missing, urgency=urgency,
                 statuses=WORKLIST_STATUSES, missing_ids=MISSING_IDS, tiers=RED_FLAG_TIERS,
                 urgency_words=URGENCY_WORDS, counts=counts, status_cell=_status_cell,
                 overdue=overdue, overdue_total=overdue_total, overdue_intakes=overdue_intakes,
                 overdue_days=services().settings.record_request_overdue_days)


def _worklist_link(status, missing, urgency, **cursor: str) -> str:
    query = {k: v for k, v in (("status", status), ("missing", missing), ("urgency", urgency), *cursor.items()) if v}
    return url_for("staff.worklist") + ("?" + urlencode(query) if query else "")


_TAGS = {"urgent": "tag--red", "too_early": "tag--yellow", "records_needed": "tag--orange",
         "ready_for_evaluation": "tag--green"}
_TIER_TAGS = {"emergency": "tag--red", "same_day": "tag--orange", "soon": "tag--yellow"}


def _status_cell(row) -> tuple[str, str, str]:
    """(words, tag style, note) of a worklist row's status: an open red-flag alert makes it urgent at
    the alert's tier, sent or not ("not sent yet" when only a draft has it), as in `triage list`."""
    from triage.records.store import most_urgent

    recorded = row.urgency if row.status == "urgent" else None
    tier = most_urgent([recorded, row.alert_urgency])
    if tier is None:
        return row.status, _TAGS.get(row.status, "tag--grey"), "draft open" if row.draft_pending and row.version else ""
    note = ""
    if row.alert_urgency is not None and tier != recorded:
        note = "not sent yet" if row.draft_pending else "alert open"
    elif row.draft_pending and row.version:
        note = "draft open"
    return f"urgent {URGENCY_WORDS.get(tier, 'EMERGENCY')}", _TIER_TAGS.get(tier, "tag--red"), note


# --- summary and print view -------------------------------------------------------------------------

def _version_arg() -> int | None:
    value = request.args.get("version")
    if value is None:
        return None
    if not value.isdigit():
        abort(400)
    return int(value)


@blueprint.get("/intakes/<int:intake_id>")
def summary(intake_id: int):
    svc = services()
    store = svc.store()
    try:
        history = store.history(intake_id)
    except IntakeNotFound:
        abort(404)
    draft = store.load_draft(intake_id)
    if not history:
        store.log_access(VIEWED, user=g.user.name, intake_id=intake_id, detail={"draft": True, "channel": "web"})
        answers = draft.answers if draft else {}
        return _page("staff/draft.html", title=f"Intake {intake_id}", intake_id=intake_id, draft=draft,
                     rows=_answer_rows(answers, red_flags=False),
                     red_flag_rows=_red_flag_rows(answers, {}), open_alerts=_open_alerts(intake_id),
                     files=store.record_files(intake_id), added_words=added_words)
    try:
        record = store.get(intake_id, _version_arg())
    except IntakeNotFound:
        abort(404)
    store.log_access(VIEWED, user=g.user.name, intake_id=intake_id, version=record.version, detail={"channel": "web"})
    result = Result.model_validate(record.result)
    return _page("staff/summary.html", title=f"Intake {intake_id}", record=record, result=result, history=history,
                 draft=draft, open_alerts=_open_alerts(intake_id), **_summary_parts(result, record.answers),
                 files=store.record_files(intake_id), added_words=added_words,
                 answered_in=LANGUAGES.get(record.language or "", record.language),
                 **_record_parts(intake_id, record, history))


def _record_parts(intake_id: int, record, history) -> dict[str, Any]:
    """The summary's record requests (with their dates), the missing records a coordinator can act on
    (those of the latest version), and which answers each received record changed, by version."""
    from triage.records.requests import changes_text, load_record_items, missing_records, received_changes, request_text

    store = services().store()
    requests = store.record_requests(intake_id)
    changes = received_changes(lambda version: store.get(intake_id, version).answers, requests)
    latest = record if record.version == history[-1].version else store.get(intake_id)
    items = load_record_items().items
    return {"request_lines": [request_text(r) for r in requests],
            "record_links": [(item, items[item].title) for item in missing_records(latest.result)],
            "record_changes": {version: changes_text(changed) for version, changed in changes.items()}}


def _open_alerts(intake_id: int) -> list:
    return services().store().open_alerts(intake_id)


def _red_flag_rows(answers: dict[str, Any], basis) -> list[tuple[str, str, list[str], str, str]]:
    """(label, answer in words, rule ids, kind, the answer as given) of every red-flag question: kind "yes", "ask" (an emergency or
    same-day question answered unknown or not answered: "NOT ANSWERED - ask now", never like a no),
    or "" (the rest)."""
    from triage.channels.render.labels import ask_now_text, asks_now

    questionnaire = services().questionnaire
    rows = []
    for question in RED_FLAGS:
        said = questionnaire.answer_text(question, answers.get(question))
        value = answers.get(question)
        kind = "yes" if value == "yes" else "" if value == "no" or not asks_now(question) else "ask"
        rows.append((questionnaire.item(question).label, ask_now_text(said) if kind == "ask" else said,
                     basis.get(("red_flag", question), []), kind, said))
    return rows


def _answer_rows(answers: dict[str, Any], *, red_flags: bool = True) -> list[tuple[str, str]]:
    """(label, answer) of every question; ``red_flags=False``: without the red-flag questions (shown on
    their own, marked)."""
    questionnaire = services().questionnaire
    return [(item.label, questionnaire.answer_text(item.id, answers.get(item.id))) for item in questionnaire.items
            if red_flags or not item.safety]


def _summary_parts(result: Result, answers: dict[str, Any]) -> dict[str, Any]:
    """What the summary page shows, each statement with the rule ids behind it."""
    questionnaire = services().questionnaire
    basis = rules_by_conclusion(result)
    sources = {entry.rule: entry for entry in result.trace}

    def said(question: str) -> str:
        return questionnaire.answer_text(question, answers.get(question))

    def group(ids: list[str]) -> list[tuple[str, str]]:
        return [(questionnaire.item(q).label, said(q)) for q in ids]

    red_flags = _red_flag_rows(answers, basis)
    steps = [(step, STEP_MARKS[step.status], basis.get(("step_status", f"{step.step}:{step.status.value}"), []))
             for step in result.steps]
    return {
        "banner": BANNERS[result.status][0],
        "basis": basis,
        "records": group(["surgical_report_available", "mri_available", "mri_date", "annular_tear_levels"]),
        "symptoms": group(["pain_location", "pain_quality", "pain_pattern_since_surgery", "pain_score",
                           "hardware_problem_known", "mechanical_symptoms"]),
        "timeline": group(["fusion_date", "fused_levels"]),
        "red_flag_rows": red_flags,
        "step_rows": steps,
        "missing_rows": [(item, basis.get(("missing", item.id), []), in_words(item.reason, questionnaire))
                         for item in result.missing_items],
        "topic_rows": [(point, basis.get(("discussion", point.id), [])) for point in result.discussion_points],
        "rules": [sources[rule] for rule in dict.fromkeys(entry.rule for entry in result.trace)],
        "veteran": said("veteran") if "veteran" in answers else None,
    }


# A file a patient sent is never shown by this site: it is downloaded (an attachment), with no type
# sniffing, and a policy that would run nothing even if a browser opened it here.
FILE_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"


@blueprint.get("/intakes/<int:intake_id>/files/<int:file_id>")
def record_file(intake_id: int, file_id: int):
    """Download one file of an intake's records (signed-in staff only; an audit row each)."""
    import io

    from flask import send_file

    from triage.records.store import RECORD_FILE_DOWNLOADED

    store = services().store()
    try:
        found = store.record_file(file_id)
    except InvalidInput:
        abort(404)
    if found.intake_id != intake_id or found.removed_at is not None:
        abort(404)
    store.log_access(RECORD_FILE_DOWNLOADED, user=g.user.name, intake_id=intake_id,
                     detail={"file": file_id, "sha256": found.sha256, "channel": "web"})
    response = send_file(io.BytesIO(store.record_file_data(file_id)), mimetype=found.media_type, as_attachment=True,
                         download_name=found.filename, etag=False, last_modified=None, max_age=0)
    response.headers["Content-Security-Policy"] = FILE_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@blueprint.get("/intakes/<int:intake_id>/print")
def print_view(intake_id: int):
    """The printable page: the HTML export's renderer (one renderer for export and print), with the
    staff pages' idle cover on screen. Its inline style blocks are allowed by their hashes only; it
    has no script."""
    from triage.records.export import document
    from triage.channels.render.html import render_html

    store = services().store()
    try:
        record = store.get(intake_id, _version_arg())
        history = store.history(intake_id)
    except IntakeNotFound:
        abort(404)
    store.log_access(EXPORTED, user=g.user.name, intake_id=intake_id, version=record.version,
                     detail={"format": "html", "to": "browser"})
    sources = {key: (source.title, source.reference) for key, source in services().ruleset.sources.items()}
    requests = store.record_requests(intake_id)
    page = render_html(Result.model_validate(record.result), document(record, history, deidentify=False,
                                                                      requests=requests),
                       services().questionnaire, sources, cover=_print_cover())
    response = make_response(page)
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in styles)
    response.headers["Content-Security-Policy"] = (f"default-src 'none'; style-src {hashes}; img-src 'self'; "
                                                   "form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
    return response


# The print view's own look for the staff pages' idle cover (its policy allows no site stylesheet). On
# screen only: printed after the idle time, the page is still the summary, never the notice.
_PRINT_COVER_CSS = """
.idle-cover { display: none; }
@media screen {
.idle-cover { display: block; visibility: hidden; position: fixed; inset: 0; z-index: 30; overflow-y: auto;
              background: #fff; border-top: 10px solid #1d70b8; padding: 1.5rem 1rem; }
.idle-cover .width { max-width: 48rem; margin: 0 auto; }
.idle-cover h1 { font-size: 1.6rem; line-height: 1.2; margin: 0 0 1rem; }
.idle-cover .body { margin: 0 0 1.2rem; }
.idle-cover .button { display: inline-block; padding: .5rem .8rem; background: #00703c; color: #fff;
                      font-weight: 600; text-decoration: none; box-shadow: 0 2px 0 #002d18; }
.idle-cover .button:focus { outline: 3px solid transparent; background: #fd0; color: #0b0c0c;
                            box-shadow: 0 2px 0 #0b0c0c; }
%s}
"""


def _print_cover():
    """The staff pages' idle cover for the print view: the same notice and link, and the same rules
    (``idle_rules``) inlined, as the page may load no stylesheet."""
    from triage.channels.render.html import Cover

    minutes = services().settings.staff_idle_minutes
    return Cover(style=_PRINT_COVER_CSS % idle_rules(minutes * 60),
                 html=render_template("staff/idle_cover.html", staff_idle=minutes, this_page=_this_page()))


# --- invite and attach (coordinators) -----------------------------------------------------------------

@blueprint.get("/invite")
@role(accounts.COORDINATOR)
def invite():
    return _page("staff/invite.html", title="Invite a patient", error=None, patient_id="", days="7", issued=None,
                 language=DEFAULT_LANGUAGE, invite_languages=LANGUAGES)


@blueprint.post("/invite")
@role(accounts.COORDINATOR)
def invite_post():
    patient_id = request.form.get("patient_id", "").strip()
    days = request.form.get("expires_days", "7").strip()
    language = request.form.get("language", DEFAULT_LANGUAGE)
    error = None
    if language not in LANGUAGES:
        error = ("language", "Select the language the questionnaire opens in")
    if error is None and not (days.isdigit() and 1 <= int(days) <= 90):
        error = ("expires_days", "Enter a number of days from 1 to 90")
    answers = None
    if patient_id and error is None:
        try:
            answers = {"patient_id": parse_answers({"patient_id": patient_id}, today=date.today()).answered()["patient_id"]}
        except InvalidInput as problem:
            error = ("patient_id", f"Patient reference: {problem.problems[0].message}")
    if error:
        return _page("staff/invite.html", title="Invite a patient", error=error, patient_id=patient_id, days=days,
                     issued=None, language=language, invite_languages=LANGUAGES), 400
    code = invites.new_code()
    expires = invites.expiry(int(days))
    draft = services().store().create_invite(invites.code_hash(code), expires_at=expires, user=g.user.name,
                                             answers=answers, language=language)
    link = public_url() + url_for("patient.start_with_code", code=code,
                                                  **({"lang": language} if language != DEFAULT_LANGUAGE else {}))
    return _page("staff/invite.html", title="Invitation ready", error=None, patient_id="", days="7",
                 issued={"code": code, "link": link, "intake_id": draft.intake_id, "language": LANGUAGES[language],
                         "expires": expires.replace("T", " ").replace("Z", " UTC")},
                 language=DEFAULT_LANGUAGE, invite_languages=LANGUAGES)


@blueprint.post("/intakes/<int:intake_id>/patient-reference")
@role(accounts.COORDINATOR)
def attach(intake_id: int):
    """Attach a patient reference to an intake that has none (a kiosk intake): to its draft, or as a
    new version of its record (the result is the same: a reference changes no rule)."""
    svc = services()
    store = svc.store()
    reference = request.form.get("patient_id", "").strip()
    try:
        history = store.history(intake_id)
    except IntakeNotFound:
        abort(404)
    try:
        checked = parse_answers({"patient_id": reference}, today=date.today()).answered().get("patient_id")
    except InvalidInput:
        checked = None
    if not checked:
        abort(400)
    draft = store.load_draft(intake_id)
    try:
        if draft is not None:
            if draft.answers.get("patient_id"):
                abort(400)
            store.save_draft({**draft.answers, "patient_id": checked}, user=g.user.name, intake_id=intake_id,
                             expected_revision=draft.revision)
        else:
            record = store.get(intake_id)
            if record.answers.get("patient_id"):
                abort(400)
            answers = {**record.answers, "patient_id": checked}
            parsed = parse_answers(answers, today=date.today())
            result = assess(parsed, svc.ruleset, svc.settings)
            store.record_assessment(parsed.answered(), result.to_json(), user=g.user.name, intake_id=intake_id,
                                    base_version=history[-1].version, source="staff")
    except Conflict:
        return _page("staff/conflict.html", title="Changed meanwhile", intake_id=intake_id), 409
    return redirect(url_for("staff.summary", intake_id=intake_id), code=303)


# --- record requests (coordinators; triage.records.requests) -------------------------------------------------

def _record_item(item: str):
    """The item's definition (the receive form), or 404 for an id that is not a record item."""
    from triage.records.requests import load_record_items

    definition = load_record_items().items.get(item)
    if definition is None:
        abort(404)
    return definition


def _records_page(intake_id: int, item: str, *, errors: list[tuple[str, str]] = (), form=None,
                  files_sent: int = 0, status: int = 200):
    """The record's page: its requests with their dates, and the forms to request it, mark it received
    (with what the triage needs from it, and copies of it) or not obtainable. Errors come back on this
    page, each (field, words), with what was typed kept; ``files_sent``: how many files came with the
    refused form (none kept; a browser cannot refill a file input: the page says to choose them again)."""
    from triage.records.requests import VIA, missing_records, request_text

    definition = _record_item(item)
    store = services().store()
    try:
        record = store.get(intake_id)
    except IntakeNotFound:
        abort(404)
    requests = [r for r in store.record_requests(intake_id) if r.item == item]
    limits = _upload_limits()
    return _page("staff/records.html", title=f"Intake {intake_id}: {definition.title}", record=record, item=item,
                 definition=definition, missing=item in missing_records(record.result), errors=list(errors),
                 error=bool(errors),
                 form=form or {}, via_choices=VIA, request_lines=[request_text(r) for r in requests],
                 files_sent=files_sent, limits=limits, megabytes=limits.max_bytes // (1024 * 1024),
                 kept_files=len(_kept_files(intake_id, item))), status


def _upload_limits():
    from triage.records.uploads import UploadLimits

    return UploadLimits.from_settings(services().settings)


def _kept_files(intake_id: int, item: str) -> list:
    """The files a record item holds (not removed), however they came: they count toward its limit."""
    return [f for f in services().store().record_files(intake_id) if f.item == item and f.removed_at is None]


def _sent_files() -> list:
    """The form's files (an empty file input sends one nameless empty part: not a file)."""
    return [f for f in request.files.getlist("file") if f and (f.filename or f.content_length)]


def _checked_files(intake_id: int, item: str, sent: list) -> tuple[list, list[tuple[str, str]]]:
    """The receive form's files, each checked as the patient's and the terminal's are
    (triage.records.uploads), and the refusals in words: nothing is kept unless every file passes."""
    from triage.core.errors import UploadRefused
    from triage.records.uploads import check_count, check_upload, refusal_text, shown_name

    limits, checked, refused = _upload_limits(), [], []
    kept = len(_kept_files(intake_id, item)) if sent else 0
    for number, storage in enumerate(sent):
        name = shown_name(storage.filename or "")
        try:
            check_count(kept + number, limits)
            # At most one byte more than the limit is read: a bigger file is refused without reading it all.
            checked.append(check_upload(storage.stream.read(limits.max_bytes + 1), storage.filename or "", limits))
        except UploadRefused as problem:
            refused.append(("file", f"{name} {refusal_text(problem.reason, limits)}"))
            if problem.reason == "too_many_files":
                break
    return checked, refused


@blueprint.get("/intakes/<int:intake_id>/records/<item>")
@role(accounts.COORDINATOR)
def record_item(intake_id: int, item: str):
    return _records_page(intake_id, item)


@blueprint.post("/intakes/<int:intake_id>/records/<item>/<action>")
@role(accounts.COORDINATOR)
def record_action(intake_id: int, item: str, action: str):
    """Request, receive or mark not obtainable: each an audit row; receiving makes a new version of the
    intake (channel records) that the rules triage (triage.records.requests.receive), and keeps the copies
    of the record attached to the form in the same transaction (channel staff, added by this member)."""
    from triage.records import requests as records
    from triage.core.errors import RecordError
    from triage.records.uploads import STAFF_CHANNEL

    definition = _record_item(item)
    if action not in ("request", "receive", "unobtainable"):
        abort(404)
    svc = services()
    store = svc.store()
    form = {key: request.form.get(key, "") for key in ("source", "via", "reason", "note", "base_version",
                                                      *(field.id for field in definition.entered))}
    files, sent = [], _sent_files() if action == "receive" else []
    if sent:  # copies of the record: all checked before anything is written
        files, refused = _checked_files(intake_id, item, sent)
        if refused:
            return _records_page(intake_id, item, errors=refused, form=form, files_sent=len(sent), status=400)
    try:
        if action == "request":
            if form["via"] and form["via"] not in records.VIA:
                abort(400)
            store.request_record(intake_id, item, source=records.check_text("source", form["source"]),
                                 via=form["via"] or None, by=g.user.name)
        elif action == "unobtainable":
            store.record_unobtainable(intake_id, item, reason=records.check_text("reason", form["reason"]),
                                      by=g.user.name)
        else:
            base = form["base_version"]
            if not base.isdigit():
                abort(400)
            given = {}
            for field in definition.entered:
                if form[field.id].strip():
                    given[field.id] = records.form_value(field.answer, form[field.id])
                elif field.required and _levels(field.answer):  # the box says "none: leave empty"
                    given[field.id] = []
            records.receive(store, intake_id, item, given, by=g.user.name, ruleset=svc.ruleset, settings=svc.settings,
                            today=svc.today(), note=form["note"], base_version=int(base), files=files,
                            channel=STAFF_CHANNEL)
    except IntakeNotFound:
        abort(404)
    except Conflict:
        return _page("staff/conflict.html", title="Changed meanwhile", intake_id=intake_id), 409
    except RecordError as problem:
        return _records_page(intake_id, item, errors=[("record", problem.problems[0].message)], form=form,
                             files_sent=len(sent), status=400)
    except InvalidInput as problem:
        first = problem.problems[0]
        where = _FORM_FIELDS.get(first.where, first.where)
        labels = {field.id: field.label for field in definition.entered} | {
            "source": "From whom", "reason": "Why it cannot be had", "note": "Note"}
        text = f"{labels.get(where, where)}: {first.message}" if where in labels else str(first)
        return _records_page(intake_id, item, errors=[(where if where in labels else "record", text)], form=form,
                             files_sent=len(sent), status=400)
    return redirect(url_for("staff.summary", intake_id=intake_id), code=303)


def too_large_receive():
    """A receive form bigger than the settings allow in one request (413, raised before any check read
    the form): the record's page again, saying so, for a signed-in coordinator; None otherwise (the
    plain page). The form was not read: nothing was recorded, and what was typed must be typed again."""
    from triage.records.requests import load_record_items

    user = _signed_in()
    args = request.view_args or {}
    if user is None or user.role != accounts.COORDINATOR or args.get("item") not in load_record_items().items:
        return None
    g.user = user
    try:
        services().store().get(args["intake_id"])
    except IntakeNotFound:
        return None
    total = current_app.config.get("TRIAGE_UPLOAD_BODY_BYTES", security.MAX_BODY_BYTES) // (1024 * 1024)
    limits = _upload_limits()
    text = (f"The files were too big to send together (more than {total} MB). Nothing was recorded: attach "
            f"fewer at a time (each under {limits.max_bytes // (1024 * 1024)} MB) and fill in the form again")
    return _records_page(args["intake_id"], args["item"], errors=[("file", text)], status=413)


# A problem's field as the core names it -> the form field it came from (an answer id, or the CLI's option).
_FORM_FIELDS = {"from": "source", "--from": "source", "--reason": "reason", "surgical_report_available": "record",
                "mri_available": "record"}


def _levels(answer: str) -> bool:
    """An empty levels box means "no level named" ([]); an empty date box means not given."""
    from triage.core.answers import KINDS

    return KINDS.get(answer) == "segments"


OVERDUE_SHOWN = 10  # above the worklist: the most overdue; the rest are in `triage records list --overdue`


def _overdue_requests(intake_ids: list[int]) -> tuple[list, int, set[int]]:
    """The most overdue record requests (at most OVERDUE_SHOWN), how many are overdue in all, and
    which of ``intake_ids`` (the rows shown) have one: bounded reads, whatever the backlog."""
    from triage.records.requests import overdue_on_page, request_text

    days = services().settings.record_request_overdue_days
    store = services().store()
    shown = [(r, request_text(r)) for r in store.record_requests(overdue_after_days=days, limit=OVERDUE_SHOWN)]
    total = store.count_overdue_requests(days) if len(shown) == OVERDUE_SHOWN else len(shown)
    on_page = set(overdue_on_page(store, days, intake_ids))
    return shown, total, on_page


# --- red-flag alerts --------------------------------------------------------------------------------

_ALERT_LISTS = ("live", "backlog")


@blueprint.get("/alerts")
def alerts():
    """The open red-flag alerts, one row per intake, a page at a time: the live list (raised as
    answers came in), or the backlog list (raised by `triage batch --save` for intakes assessed
    before its recent window: docs/red-flags.md), where a clinician may acknowledge them together."""
    store = services().store()
    which = request.args.get("list", "live")
    if which not in _ALERT_LISTS:
        abort(400)
    after = request.args.get("after")
    try:
        page = store.open_alert_page(backlog=which == "backlog", after=after, limit=PAGE_SIZE)
    except ValueError:  # a position that is not one this page wrote
        abort(400)
    acknowledged = request.args.get("acknowledged", "")
    return _alerts_page(which, page, first=bool(after), acknowledged=int(acknowledged) if acknowledged.isdigit() else None)


def _alerts_page(which: str, page, *, first: bool = False, acknowledged: int | None = None,
                 error: str | None = None, status: int = 200):
    counts = services().store().alert_counts()
    return _page("staff/alerts.html", title="Red-flag alerts", rows=_rows_of(page.alerts), which=which,
                 live=counts.get("intakes", 0), backlog=counts.get("backlog", 0),
                 backlog_latest=counts.get("backlog_latest", 0),
                 next_link=url_for("staff.alerts", list=which, after=page.next) if page.next else None,
                 first_link=url_for("staff.alerts", list=which) if first else None,
                 acknowledged=acknowledged, error=error), status


@blueprint.post("/alerts/backlog/acknowledge")
@role(accounts.CLINICIAN)
def acknowledge_backlog():
    """A clinician acknowledges the backlog's open alerts together, saying why (recorded with who and
    when, one audit row per intake). Only alerts up to the newest one the page showed: a backlog
    recorded since is not acknowledged unseen. The intakes stay urgent rows of their tier."""
    store = services().store()
    reason = " ".join((request.form.get("reason") or "").split())
    up_to = request.form.get("up_to", "")
    if not up_to.isdigit():
        abort(400)
    if not 10 <= len(reason) <= 500:
        return _alerts_page("backlog", store.open_alert_page(backlog=True, limit=PAGE_SIZE), status=400,
                            error="Say why these alerts need no action now, in 10 to 500 characters (for example, "
                            "who reviewed them and where).")
    count = store.acknowledge_backlog(user=g.user.name, reason=reason, up_to=int(up_to))
    return redirect(url_for("staff.alerts", list="backlog", acknowledged=count), code=303)


def _rows_of(open_alerts) -> list[dict[str, Any]]:
    questionnaire = services().questionnaire
    grouped: dict[int, dict[str, Any]] = {}
    for alert in open_alerts:
        entry = grouped.setdefault(alert.intake_id, {"intake_id": alert.intake_id, "patient_id": alert.patient_id,
                                                     "raised_at": alert.raised_at, "urgency": alert.urgency,
                                                     "questions": [], "kiosk": False})
        entry["questions"].append(questionnaire.item(alert.question).label
                                  + (" (answer changed: no longer yes)" if alert.answer_changed_at else ""))
        entry["kiosk"] = entry["kiosk"] or alert.kiosk
        if URGENCY_ORDER.index(alert.urgency) < URGENCY_ORDER.index(entry["urgency"]):
            entry["urgency"] = alert.urgency
        entry["raised_at"] = max(entry["raised_at"], alert.raised_at)
    return list(grouped.values())


@blueprint.post("/alerts/<int:intake_id>/acknowledge")
@role(accounts.CLINICIAN)
def acknowledge(intake_id: int):
    # Where to go next is decided before anything is done: a request refused changes nothing.
    target = _safe_next(request.form.get("next")) if request.form.get("next") else url_for("staff.alerts")
    try:
        services().store().acknowledge_alerts(intake_id, user=g.user.name)
    except IntakeNotFound:
        abort(404)
    return redirect(target, code=303)


@blueprint.get("/idle.css")
def idle_css():
    """Covers a signed-in staff page (worklists, summaries and alerts show patient information) when
    the session's idle time is up, without JavaScript (see ``idle_stylesheet``). With JavaScript the
    alert poll reloads the page when the session ends (to sign-in), so the script switches this off."""
    return idle_stylesheet(services().settings.staff_idle_minutes * 60)


@blueprint.get("/alerts.json")
def alert_counts():
    """The banner's poll (every few seconds with JavaScript): counts only, never who or what."""
    session.passive = True  # the page asks by itself: this is not activity, the idle timeout still runs
    counts = services().store().alert_counts()
    # "latest": the newest alert's number, so that the worklist knows a new alert came (counts alone
    # can stay the same when one is acknowledged and another raised between two polls).
    response = jsonify({"signed_in": True, "intakes": counts.get("intakes", 0),
                        "emergency": counts.get("emergency", 0), "latest": counts.get("latest", 0)})
    return response
