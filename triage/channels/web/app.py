"""The web application: ``create_app(...)`` builds it; `triage serve` runs it under waitress. Patient
pages under /intake/ (triage.channels.web.patient), staff pages under /staff/ (triage.channels.web.staff).

Definitions (questionnaire, rules, settings, web texts) are loaded once. On SQLite each server thread
keeps its own store connection (SQLite connections belong to one thread); on PostgreSQL each request
borrows one from the process's pool (triage.records.store). While the database cannot be reached, every
page answers 503 with a plain page and /readyz says not ready; nothing needs restarting after. The
rules engine is serialised by its own lock (triage.decision.engine), so threads are safe. Another component
adds its routes with one line: ``app.register_blueprint(blueprint)`` (or ``create_app(...,
blueprints=[blueprint])``).
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterable

from flask import Blueprint, Flask, render_template, request

from triage.core.errors import AuditKeyMissing, StoreError, StoreUnavailable, TriageError
from triage.core.languages import DEFAULT_LANGUAGE, LANGUAGES, load_language
from triage.core.questionnaire import load_definition
from triage.core.ruleset import load_ruleset
from triage.core.settings import load_settings
from triage.records.store import is_postgresql_url, open_store
from triage.channels.web import cds_hooks, security
from triage.channels.web.messages import load_all_messages
from triage.channels.web.services import Services, services
from triage.channels.web.sessions import ServerSessions

PACKAGE = Path(__file__).resolve().parent
PURGE_EVERY_SECONDS = 60.0
# `--kiosk` intakes: a reception tablet serves one patient at a time, each for minutes; a flood of
# new intakes (a script, a stuck key) is refused past these.
KIOSK_PER_ADDRESS_PER_MINUTE = 3
KIOSK_PER_MINUTE = 20

UNSESSIONED = frozenset({"healthz", "readyz", "static"})  # answer without a session, even with the store down


def create_app(*, store_path: Path | str, settings_path: Path | None = None, kiosk: bool = False,
               secure_cookies: bool = False, today: Callable[[], date] = date.today,
               clock: Callable[[], float] = time.time,
               blueprints: Iterable[Blueprint] = (), base_url: str | None = None,
               allowed_hosts: Iterable[str] | None = None, trusted_proxies: Iterable[str] | int | None = None,
               metrics: bool = False) -> Flask:
    """The app. ``secure_cookies``: mark cookies Secure (serving behind an https reverse proxy; an
    https ``base_url`` does too). ``base_url``, ``allowed_hosts`` and ``trusted_proxies`` come from the
    configuration (triage.channels.config; see triage.channels.web.network). ``metrics``: Prometheus metrics, served by
    ``app.extensions["triage.metrics"].wsgi_app()`` on their own port. ``today`` and ``clock`` (seconds
    since the epoch: sessions and rate-limit counters are shared with other processes in the store) are
    injectable for tests. The store is opened (and created) here, so a store that cannot be used stops
    `triage serve` before it listens."""
    from triage.channels.web import network, observability, patient, staff

    settings = load_settings(settings_path)
    store_path = store_path if is_postgresql_url(store_path) else Path(store_path)
    open_store(store_path).close()
    if is_postgresql_url(store_path):
        open_store(store_path, pooled=True).close()  # the pool too: what it lacks is one line at start
    app = Flask(__name__, static_folder=str(PACKAGE / "static"), template_folder=str(PACKAGE / "templates"))
    app.config.update(
        TRAP_HTTP_EXCEPTIONS=False,
        PROPAGATE_EXCEPTIONS=False,
        TEMPLATES_AUTO_RELOAD=False,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.debug = False  # never: a traceback page would show code and data

    # Sessions live in the store (every process on it sees them). The patient's language outlives an
    # idle end, so "we closed the questionnaire" is in their language.
    sessions = ServerSessions(lambda: services().store(),
                              {"patient": settings.patient_idle_minutes * 60.0, "staff": settings.staff_idle_minutes * 60.0},
                              settings.session_lifetime_hours * 3600.0, clock=clock,
                              kept_after_idle=("lang", "lang_chosen"), forget_store=lambda: services().forget_store())

    def limiter(name: str, **limits: Any) -> security.Limiter:
        return security.Limiter(name, store=lambda: app.extensions["triage"].store(), clock=clock, **limits)

    app.session_interface = sessions
    definition, ruleset = load_definition(), load_ruleset()
    # Every language is loaded (and so checked) here: a broken translation stops `triage serve`
    # before it listens, never a page half in one language.
    languages = {code: load_language(code, questionnaire=definition, ruleset=ruleset, settings=settings,
                                     check_all=False) for code in LANGUAGES}
    all_messages = load_all_messages()
    app.extensions["triage"] = Services(
        store_path=store_path,
        questionnaire=languages[DEFAULT_LANGUAGE].questionnaire,
        ruleset=ruleset,
        settings=settings,
        messages=all_messages[DEFAULT_LANGUAGE],
        languages=languages,
        all_messages=all_messages,
        kiosk=kiosk,
        today=today,
        sessions=sessions,
        code_limiter=limiter("code", limit=10, window=15 * 60, global_limit=300),
        sign_in_limiter=limiter("sign_in", limit=20, window=15 * 60, global_limit=100),
        account_limiter=limiter("sign_in_account", limit=5, window=15 * 60),
        device_limiter=limiter("sign_in_device", limit=5, window=15 * 60),
        kiosk_limiter=limiter("kiosk", limit=KIOSK_PER_ADDRESS_PER_MINUTE, window=60,
                              global_limit=KIOSK_PER_MINUTE),
        # Files a patient uploads (triage.channels.web.patient.upload): per intake and per address, 15 minutes.
        upload_limiter=limiter("upload", limit=30, window=15 * 60),
        clock=clock,
        pooled=is_postgresql_url(store_path),
    )
    # After every request, the session saved and the response made: its pooled connection goes back.
    app.teardown_request(lambda _error: services().release_store())
    # Order matters: every request gets its id and its access-log line, then its host name is
    # checked, then the security checks run.
    observability.install(app, observability.Metrics(_open_alerts(store_path)) if metrics else None)
    network.install(app, network.Network.build(base_url=base_url, allowed_hosts=allowed_hosts,
                                               trusted_proxies=trusted_proxies, secure_cookies=secure_cookies))
    # An upload's request may be as big as the files a record may hold (each file is checked again).
    app.config["TRIAGE_UPLOAD_BODY_BYTES"] = (settings.upload_max_file_megabytes * settings.upload_max_files_per_record
                                              + 1) * 1024 * 1024

    @app.before_request
    def _session_readable() -> None:
        """Before the security checks (a form's CSRF token is in the session): a session that could not
        be read from the store ends the request here. A page without its session would send the patient
        back to the start (their answers are safe in the store): a plain error page instead, 503 while
        the database cannot be reached (the same page works again once it is back)."""
        from flask import session

        failure = getattr(session, "unavailable", None)
        if failure and request.endpoint not in UNSESSIONED:
            raise (StoreUnavailable if isinstance(failure, StoreUnavailable) else StoreError)(
                "sessions cannot be read from the store")

    security.install(app)
    app.jinja_env.autoescape = True
    app.jinja_env.globals["t"] = lambda message_id, **values: services().text(message_id, **values)
    app.jinja_env.globals["lang"] = lambda: services().language()

    last_purge = [clock()]

    @app.before_request
    def _sessions() -> None:
        from flask import session

        if request.endpoint in UNSESSIONED:
            return
        now = clock()
        if now - last_purge[0] > PURGE_EVERY_SECONDS:
            last_purge[0] = now
            sessions.purge()

    @app.get("/healthz")
    def healthz():  # liveness: the process answers (the store is /readyz's business)
        return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}

    @app.get("/readyz")
    def readyz():
        """Ready for traffic: the definitions are loaded and the store answers a query (503 otherwise,
        and this thread's connection is dropped, so the next request opens a fresh one)."""
        svc = services()
        plain = {"Content-Type": "text/plain; charset=utf-8"}
        if not (svc.questionnaire and svc.ruleset and svc.languages):
            return "not ready: definitions not loaded\n", 503, plain
        try:
            svc.store().ping()
        except Exception as error:  # StoreError, or a driver error from a connection gone bad
            svc.forget_store()
            observability.store_failed()
            app.logger.warning("not ready: the store does not answer (%s)", type(error).__name__)
            return "not ready: the store does not answer\n", 503, plain
        return "ready\n", 200, plain

    @app.get("/")
    def root():
        from flask import redirect, url_for

        return redirect(url_for("patient.start"))

    app.register_blueprint(patient.blueprint)
    app.register_blueprint(staff.blueprint)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    # CDS Hooks for the clinic's EHR, only when configured (TRIAGE_CDS_HOOKS names its file).
    # Its replay check is in the store, like the sessions: a token is accepted once by all processes.
    from triage.interop.cds_hooks import StoreReplays

    cds_hooks.init_app(app, settings=settings, today=today, replays=StoreReplays(lambda: services().store()))
    _error_pages(app)
    return app


def _open_alerts(store_path: Path | str) -> Callable[[], int]:
    """How many intakes have an open alert, read on each metrics scrape (its own connection, opened
    per scrape: scrapes are rare and come from another thread)."""

    def count() -> int:
        with open_store(store_path) as store:
            return store.alert_counts()["intakes"]

    return count


# The staff pages' error pages, by the patient pages' title id (staff pages are in English).
STAFF_ERRORS = {
    "bad_request_title": ("The request could not be used",
                          "Something in the page address or the form was not right, so nothing was done. "
                          "Go back, reload the page and try again."),
    "not_found_title": ("Page not found", "Check the address, or go to the worklist."),
    "server_error_title": ("Sorry, something went wrong",
                           "Try again in a moment. If it keeps happening, tell the clinic's IT contact."),
    "unavailable_title": ("The service is not available just now",
                          "The database cannot be reached, so nothing was shown or saved by this request; what "
                          "was saved before is kept. Try again in a minute. If it keeps happening, tell the "
                          "clinic's IT contact."),
}
# How long a client is asked to wait after a 503 (the database away): a restart takes seconds.
RETRY_AFTER_SECONDS = 10


def _error_pages(app: Flask) -> None:
    """Plain pages for every error: never a traceback, never a framework page."""

    def page(code: int, title: str, text: str):
        from flask import jsonify, session

        from triage.channels.web.patient import language_switch

        if request.blueprint in security.TOKEN_AUTHENTICATED:  # an API: its clients read JSON
            return jsonify({"error": STAFF_ERRORS[title][0].lower()}), code
        if request.path.startswith("/staff"):  # staff wording on staff pages, whoever asks
            heading, explanation = STAFF_ERRORS[title]
            return render_template("staff/error.html", title=heading, text=explanation, user=None,
                                   staff_idle=services().settings.staff_idle_minutes), code
        # Without the store (a 503) the session could not be read: no language switch (its links
        # would need the session), the page in the language the visitor cookie still names.
        switch = [] if session.get("staff") or code == 503 else language_switch()
        return render_template("error.html", title_id=title, text_id=text, languages=switch), code

    @app.errorhandler(400)
    def bad_request(_):
        return page(400, "bad_request_title", "bad_request_text")

    @app.errorhandler(404)
    @app.errorhandler(405)
    def not_found(_):
        return page(404, "not_found_title", "not_found_text")

    @app.errorhandler(413)
    def too_large(_):
        if request.endpoint == "patient.upload":  # the upload page again, saying so
            from triage.channels.web.patient import too_large_upload

            return too_large_upload()
        if request.endpoint == "staff.record_action":  # the record's page again, saying so (if signed in)
            from triage.channels.web.staff import too_large_receive

            return too_large_receive() or page(413, "bad_request_title", "bad_request_text")
        return page(413, "bad_request_title", "bad_request_text")

    def unavailable(error):
        """The database cannot be reached: 503, a plain page, and nothing done by this request (a write
        was refused or rolled back; the patient's saved answers are in their draft)."""
        from triage.channels.web.observability import store_failed

        store_failed()
        services().forget_store()  # a connection that failed is not used again
        app.logger.warning("unavailable on %s: the store cannot be reached (%s)",
                           request.url_rule.rule if request.url_rule else "(no route)", error)
        response = page(503, "unavailable_title", "unavailable_text")
        response = app.make_response(response)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    app.register_error_handler(StoreUnavailable, unavailable)

    def cannot_sign(error):
        """The audit chain is signed with a key this server was not given: nothing was recorded. The
        administrator's problem, not the visitor's: the plain "cannot be used right now" page (503)
        and a log line saying what to give (no Retry-After: it lasts until someone gives the key)."""
        from triage.channels.web.observability import store_failed

        store_failed()
        app.logger.error("cannot record on %s: %s", request.url_rule.rule if request.url_rule else "(no route)", error)
        return page(503, "unavailable_title", "unavailable_text")

    app.register_error_handler(AuditKeyMissing, cannot_sign)

    @app.errorhandler(StoreError)
    @app.errorhandler(TriageError)
    @app.errorhandler(500)
    @app.errorhandler(Exception)
    def server_error(error):
        from werkzeug.exceptions import HTTPException

        if isinstance(error, HTTPException) and error.code and error.code < 500:
            return page(error.code, "bad_request_title", "bad_request_text")
        # Failing after the page was made (saving the session): Flask hands us a 500 wrapping it.
        if isinstance(getattr(error, "original_exception", None), StoreUnavailable):
            return unavailable(error.original_exception)
        if isinstance(getattr(error, "original_exception", None), AuditKeyMissing):
            return cannot_sign(error.original_exception)
        if isinstance(error, StoreError):
            from triage.channels.web.observability import store_failed

            store_failed()
        app.logger.error("internal error on %s: %s", request.url_rule.rule if request.url_rule else "(no route)",
                         type(error).__name__)
        return page(500, "server_error_title", "server_error_text")
