"""The web's commands: `serve` (the patient pages, and staff pages, in a browser) and `invite` (a code
that lets a patient answer on the web).

`serve` checks everything it can here (settings, the store, the address), binds the listening socket
and then hands over to the web layer's own entry point (`python -m triage.channels.web`) by exec, passing the
socket: the terminal layer and the web layer never import each other, and a problem found before the
hand-over is one line with its exit code, like any command's.
"""

from __future__ import annotations

import os
import socket
import sys
import sysconfig
from pathlib import Path

import triage
from triage.channels.cli import common
from triage.channels.cli.common import IO, ExitCode
from triage.core.errors import InvalidInput, Problem

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765  # triage.channels.config has the same defaults
BASE_URL_ENV = "TRIAGE_BASE_URL"


def register(commands) -> None:
    serve = common.add_command(
        commands, "serve", help="serve the questionnaire to patients in a web browser",
        description="Serve the web pages: the patient questionnaire under /intake/, staff pages under /staff/, "
        "GET /healthz (liveness) and GET /readyz (the store answers). It listens on the loopback address by "
        "default; on a clinic network, put it behind a TLS reverse proxy (--behind-proxy on the same machine; "
        "see docs/deployment.md), or set base_url and trusted_proxies (see docs/operations.md). Every option "
        "can also come from the configuration file ([serve] in --config FILE, TRIAGE_CONFIG, or "
        "/etc/fbss-triage/triage.toml) and from TRIAGE_* environment variables: the command line wins over "
        "the environment, which wins over the file. Ctrl-C stops it.",
        notes=common.STORE_HELP, handler=run_serve, exit_codes=(ExitCode.DEFINITION, ExitCode.STORE),
        examples=("triage serve                      # http://127.0.0.1:8765/intake/",
                  "triage serve --kiosk              # a reception tablet: new questionnaires too",
                  "triage serve --behind-proxy       # behind nginx/Caddy with TLS on this machine",
                  "triage serve --config /etc/fbss-triage/triage.toml --check-config"))
    serve.add_argument("--config", metavar="FILE",
                       help="the configuration file (default: TRIAGE_CONFIG, else /etc/fbss-triage/triage.toml "
                       "when it exists)")
    serve.add_argument("--check-config", action="store_true",
                       help="print the effective configuration (secrets masked, with where each value came "
                       "from), check it, and exit: 0 when usable")
    serve.add_argument("--host", help=f"address to listen on (TRIAGE_HOST; default {DEFAULT_HOST})")
    serve.add_argument("--port", type=_port, help=f"port to listen on (TRIAGE_PORT; default {DEFAULT_PORT}; "
                       "0 = any free port)")
    serve.add_argument("--kiosk", action="store_true", default=None,
                       help="a reception tablet: the start page also offers \"start a new questionnaire\"")
    serve.add_argument("--behind-proxy", action="store_true",
                       help="behind a TLS reverse proxy on this machine: cookies are Secure, and unless "
                       "trusted_proxies says otherwise, the proxy's X-Forwarded-Proto and X-Forwarded-For are "
                       "trusted from 127.0.0.1 and ::1 only")
    serve.add_argument("--threads", type=_threads, metavar="N", help="requests served at once (TRIAGE_THREADS; default 8)")
    serve.add_argument("--base-url", metavar="URL",
                       help="the address patients open, https://... (TRIAGE_BASE_URL): invitation links, the "
                       "Origin check, Secure cookies and HSTS follow it; only its host name is served")
    serve.add_argument("--trusted-proxies", metavar="LIST",
                       help="proxies whose forwarding headers are believed: addresses or networks separated by "
                       "commas, or a number of proxies in front (TRIAGE_TRUSTED_PROXIES)")
    serve.add_argument("--allowed-hosts", metavar="LIST",
                       help="host names a request may name, separated by commas (TRIAGE_ALLOWED_HOSTS; default: "
                       "the base URL's host name; without either, any)")
    serve.add_argument("--log-format", metavar="text|json", help="text or json (TRIAGE_LOG_FORMAT; default text)")
    serve.add_argument("--metrics", metavar="on|off", help="on or off: Prometheus metrics at /metrics on their own port "
                       "(TRIAGE_METRICS; default off)")
    serve.add_argument("--metrics-port", type=_port, metavar="PORT", help="the metrics port (TRIAGE_METRICS_PORT; default 9765)")
    common.add_settings_option(serve)
    common.add_store_options(serve, who=False)

    invite = common.add_command(
        commands, "invite", help="invite a patient to answer on the web: prints a code and its link",
        description="Start an intake and print a code that opens it on the web pages (`triage serve`), and its "
        "link. The code has 10 letters and digits without look-alikes; it works until it expires or the "
        "intake is sent. Only a hash of it is stored, so it cannot be shown again: give it to the patient now.",
        notes=common.STORE_HELP, handler=run_invite, exit_codes=(ExitCode.STORE,),
        examples=("triage invite --patient-id P-1042",
                  "triage invite --patient-id P-1042 --lang es     # the questionnaire opens in Spanish",
                  "triage invite --expires-days 2 --base-url https://intake.clinic.example"))
    invite.add_argument("--patient-id", metavar="REF", help="the patient reference to attach to the intake")
    invite.add_argument("--expires-days", type=_days, default=7, metavar="N",
                        help="days the code works (default 7)")
    invite.add_argument("--base-url", metavar="URL",
                        help=f"the address patients open, for the link (default: {BASE_URL_ENV}, else base_url "
                        f"in the configuration file; http://{DEFAULT_HOST}:{DEFAULT_PORT} only when neither is set "
                        "and the server listens on loopback)")
    common.add_language_option(invite, "the language the web questionnaire opens in for this code; the "
                               "patient can switch language on every page")
    common.add_store_options(invite, who_help="who invites")


def _port(text: str) -> int:
    if text.isdigit() and 0 <= int(text) <= 65535:
        return int(text)
    raise ValueError(text)


def _threads(text: str) -> int:
    if text.isdigit() and 1 <= int(text) <= 64:
        return int(text)
    raise ValueError(text)


def _days(text: str) -> int:
    if text.isdigit() and 1 <= int(text) <= 90:
        return int(text)
    raise ValueError(text)


_port.__name__ = "port (0 to 65535)"
_threads.__name__ = "number of threads (1 to 64)"
_days.__name__ = "number of days (1 to 90)"


def serve_config(args):
    """The effective configuration of `triage serve` (triage.channels.config): options over environment over
    file over defaults."""
    from triage.channels import config

    given = {name: getattr(args, name, None) for name in config.KEYS}
    return config.resolve(given, config_file=args.config)


def _check(cfg) -> None:
    """Problems between values (each value alone was checked by triage.channels.config)."""
    if cfg.metrics and cfg.metrics_port and cfg.metrics_port == cfg.port:
        raise common.UsageError([Problem(f"metrics_port ({cfg.source('metrics_port')})",
                                         "is the port of the pages; give another one")])


def run_serve(args, io: IO) -> int:
    from triage.channels import config
    from triage.core.settings import load_settings
    from triage.records.store import default_path

    cfg = serve_config(args)
    _check(cfg)
    location = cfg.db if cfg.db is not None else default_path()
    if not isinstance(location, str) or not location.startswith(("postgresql://", "postgres://")):
        location = Path(location)
    args.db = str(location)  # what common.open_store reads
    settings = Path(cfg.settings) if cfg.settings else None
    note = _json_note if cfg.log_format == "json" and not args.check_config else io.note  # the log's shape
    configured = config.configured_store()  # what coordinators' commands open (TRIAGE_CONFIG or the system file)
    if configured is not None and not config.same_store(location, configured[0]):
        note(f"warning: the service's store ({config.mask_url(str(location))}, from {cfg.source('db')}) is not the "
             f"one the other triage commands open ({config.mask_url(configured[0])}, in {configured[1]})")
    args.store_warned = True  # said here, in the service's words (common.open_store would say it again)
    if args.check_config:
        return _print_config(cfg, location, settings, args, io)
    load_settings(settings)  # a broken settings file stops here (exit 3), not in the server
    with common.open_store(args, io) as store:  # so does a store that cannot be used (exit 5)
        shown_store = store.path  # a PostgreSQL URL without its password
    listener = _listen(cfg.host, cfg.port)
    metrics = _listen(cfg.metrics_host, cfg.metrics_port) if cfg.metrics else None
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    note(f"serving on http://{shown}:{port}/intake/ (store {shown_store}); Ctrl-C stops")
    if metrics is not None:
        metrics_host, metrics_port = metrics.getsockname()[:2]
        note(f"metrics on http://{f'[{metrics_host}]' if ':' in metrics_host else metrics_host}:{metrics_port}/metrics")
    if cfg.base_url:  # what the administrator checks against DNS, nginx and the invitations
        note(f"patients open {cfg.base_url.rstrip('/')}/intake/ (base_url, from {cfg.source('base_url')})")
    if not config.is_loopback(cfg.host) and not args.behind_proxy and not cfg.trusted_proxies and not cfg.secure:
        note("warning: not the loopback address and no proxy nor https base URL: pages travel unencrypted")
    if cfg.db is None and not config.is_loopback(cfg.host):
        note(f"warning: the store is this account's own ({location}): set db in the configuration file so "
             "that coordinators' commands open the same store (see docs/operations.md)")
    io.err.flush()
    io.out.flush()
    # -P: the current folder is not put on sys.path, so a server started inside some checkout runs the
    # same triage as this command (the installed one); run from a checkout, that folder is passed on.
    command = [sys.executable, "-P", "-m", "triage.channels.web", "--fd", str(listener.fileno()),
               "--threads", str(cfg.threads), "--log-format", cfg.log_format]
    own_parent = str(Path(triage.__file__).resolve().parent.parent)
    installed = {str(Path(p).resolve()) for p in (sysconfig.get_path("purelib"), sysconfig.get_path("platlib"))}
    if own_parent not in installed:
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [own_parent, os.environ.get("PYTHONPATH")]))
    if isinstance(location, str):  # a PostgreSQL URL: in the environment, never on a command line
        os.environ["TRIAGE_DB"] = location
    else:
        command += ["--db", str(location)]
    if settings:
        command += ["--settings", str(settings)]
    if cfg.base_url:
        command += ["--base-url", cfg.base_url]
    if cfg.allowed_hosts:
        command += ["--allowed-hosts", ",".join(cfg.allowed_hosts)]
    if cfg.trusted_proxies:
        proxies = cfg.trusted_proxies
        command += ["--trusted-proxies", str(proxies) if isinstance(proxies, int) else ",".join(proxies)]
    if metrics is not None:
        command += ["--metrics-fd", str(metrics.fileno())]
    command += ["--kiosk"] * bool(cfg.kiosk) + ["--behind-proxy"] * args.behind_proxy
    os.execv(sys.executable, command)  # the web layer takes over this process (and the socket)
    return ExitCode.INTERNAL  # not reached


def _json_note(text: str) -> None:
    """A start-up line as one JSON object, like the service's log lines (log_format = "json")."""
    import json
    import time

    from triage.core.safe_text import for_terminal

    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    level = "WARNING" if text.startswith("warning: ") else "INFO"
    sys.stderr.write(json.dumps({"time": stamp, "level": level, "logger": "triage.serve",
                                 "message": for_terminal(text.removeprefix("warning: "))}) + "\n")


def _print_config(cfg, location, settings, args, io: IO) -> int:
    """--check-config: every value, masked where secret, with its source; then the settings file and
    the store are checked (a problem exits with its code, one line)."""
    from triage.channels import config
    from triage.core.settings import load_settings

    if cfg.file is not None:
        io.out.write(f"configuration file: {cfg.file} ({cfg.file_source})\n")
    else:
        io.out.write(f"configuration file: none (TRIAGE_CONFIG is not set and {config.SYSTEM_CONFIG} does not exist)\n")
    rows = [(name, cfg.shown(name), cfg.source(name)) for name in config.KEYS]
    if cfg.db is None:
        rows[0] = ("db", f"{location} (this account's own store)", "default")
    width = max(len(value) for _, value, _ in rows)
    for name, value, source in rows:
        io.out.write(f"  {name:<16} {value:<{width}}  ({source})\n")
    io.out.write(f"audit key file: {_audit_key_note()}\n")
    io.out.flush()
    load_settings(settings)  # a broken settings file: exit 3, naming it
    if isinstance(location, str) or _there_or_unknown(location):
        with common.open_store(args, io, for_reading=True):  # an unusable store: exit 5
            pass
        store_note = "the store opens"
    else:
        store_note = "the store will be created on first start"
    io.out.write(f"ok: the configuration is usable; the settings load; {store_note}\n")
    return ExitCode.OK


def _audit_key_note() -> str:
    """Whether the audit chain will be signed (docs/security.md): the key file and its newest key's id,
    or that there is none. An unusable key file is an error at once (exit 5, one line)."""
    from triage.core.errors import StoreError
    from triage.records.store.audit import AUDIT_KEY_FILE_VARIABLE, audit_keys_from_environment

    try:
        keys = audit_keys_from_environment()
    except StoreError as error:
        raise StoreError(f"{error} ({AUDIT_KEY_FILE_VARIABLE})") from None
    if keys is None:
        return f"none ({AUDIT_KEY_FILE_VARIABLE} is not set): audit rows are not signed (see docs/security.md)"
    count = len(keys.keys)
    return (f"{keys.path} ({AUDIT_KEY_FILE_VARIABLE}): {count} key{'s' if count != 1 else ''}, "
            f"new rows signed with key {keys.newest[0]}")


def _there_or_unknown(path: Path) -> bool:
    """Whether a store file exists; one behind a folder this account may not enter counts as there,
    so that opening it says why in one line."""
    try:
        return path.exists()
    except PermissionError:
        return True


def _listen(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(1024)
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise common.UsageError([Problem("triage serve", f"cannot listen on {host}:{port} ({reason})")]) from None
    listener.set_inheritable(True)
    return listener


def run_invite(args, io: IO) -> int:
    from datetime import date

    from triage.records import invites
    from triage.core.answers import parse_answers

    answers = None
    if args.patient_id is not None:  # checked by the answers contract, like any patient reference
        answers = {"patient_id": parse_answers({"patient_id": args.patient_id}, today=date.today()).answered()["patient_id"]}
    base = _link_base(args.base_url)  # before anything is stored: a refused link stores no invite
    code = invites.new_code()
    expires = invites.expiry(args.expires_days)
    with common.open_store(args, io) as store:
        draft = store.create_invite(invites.code_hash(code), expires_at=expires, user=common.user(args), answers=answers,
                                    language=args.lang)
    # The link opens the start page in the invitation's language too (the code alone does once it is entered).
    lang = f"?lang={args.lang}" if args.lang != "en" else ""
    io.out.write(f"code: {code}\nlink: {base}/intake/code/{code}{lang}\n")
    from triage.core.languages import LANGUAGES

    io.note(f"intake {draft.intake_id}: the code works until {expires.replace('T', ' ').replace('Z', ' UTC')}, "
            f"or until the answers are sent; it cannot be shown again; it opens in {LANGUAGES[args.lang]}")
    return ExitCode.OK


def _link_base(given: str | None) -> str:
    """Where the invitation link points: --base-url, else the configured base URL (TRIAGE_BASE_URL,
    else base_url in the configuration file), else the loopback address. A loopback link (which no
    patient's phone opens) is refused when a base URL is configured and --base-url names another, and
    whenever the configured server does not listen on loopback. A configured base URL on loopback with
    a server on loopback is someone's deliberate trial (or a test of the TLS front): it is used."""
    from urllib.parse import urlsplit

    from triage.channels import config

    configured = config.resolve({})
    if given is not None:
        try:
            given = config.KEYS["base_url"].parse(given)
        except ValueError as error:
            raise InvalidInput([Problem("--base-url", str(error))]) from None
    base = given or configured.base_url or f"http://{DEFAULT_HOST}:{configured.port}"
    if not config.is_loopback(urlsplit(base).hostname):
        return base
    fix = "set base_url under [serve] in the configuration file, or TRIAGE_BASE_URL, to the https:// address patients open"
    if configured.base_url is not None and given is not None and configured.base_url != given:
        raise InvalidInput([Problem("--base-url", f"is a loopback address, which no patient's phone can open, and the "
                                    f"service's base URL is {configured.base_url} (from {configured.source('base_url')}): "
                                    "leave --base-url out")])
    if configured.base_url is not None and not config.is_loopback(configured.host):
        raise InvalidInput([Problem("triage invite", f"the configured base URL {configured.base_url} (from "
                                    f"{configured.source('base_url')}) is a loopback address, which no patient's "
                                    f"phone can open, and the server listens on {configured.host} (from "
                                    f"{configured.source('host')}): {fix}")])
    if not config.is_loopback(configured.host):
        raise InvalidInput([Problem("triage invite", f"no base URL is configured and the server listens on "
                                    f"{configured.host} (from {configured.source('host')}), not on loopback: a "
                                    f"{DEFAULT_HOST} link would not open on a patient's phone; {fix} (or give --base-url)")])
    return base
