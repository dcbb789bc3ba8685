"""The web's commands: `serve` (the patient pages, and staff pages, in a browser) and `invite` (a code
that lets a patient answer on the web).

`serve` checks everything it can here (settings, the store, the address), binds the listening socket
and then hands over to the web layer's own entry point (`python -m triage.web`) by exec, passing the
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
from triage.cli import common
from triage.cli.common import IO, ExitCode
from triage.errors import Problem

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765
BASE_URL_ENV = "TRIAGE_BASE_URL"


def register(commands) -> None:
    serve = common.add_command(
        commands, "serve", help="serve the questionnaire to patients in a web browser",
        description="Serve the web pages: the patient questionnaire under /intake/ (and GET /healthz). It listens "
        "on the loopback address by default; on a clinic network, put it behind a TLS reverse proxy on the same "
        "machine and use --behind-proxy (see docs/deployment.md). Ctrl-C stops it.",
        notes=common.STORE_HELP, handler=run_serve, exit_codes=(ExitCode.DEFINITION, ExitCode.STORE),
        examples=("triage serve                      # http://127.0.0.1:8765/intake/",
                  "triage serve --kiosk              # a reception tablet: new questionnaires too",
                  "triage serve --behind-proxy       # behind nginx/Caddy with TLS on this machine"))
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=_port, default=DEFAULT_PORT,
                       help=f"port to listen on (default {DEFAULT_PORT}; 0 = any free port)")
    serve.add_argument("--kiosk", action="store_true",
                       help="a reception tablet: the start page also offers \"start a new questionnaire\"")
    serve.add_argument("--behind-proxy", action="store_true",
                       help="behind a TLS reverse proxy on this machine: cookies are Secure, and the proxy's "
                       "X-Forwarded-Proto and X-Forwarded-For are trusted (from 127.0.0.1 only)")
    serve.add_argument("--threads", type=_threads, default=8, help="requests served at once (default 8)")
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
                        help=f"the address patients open, for the link (default: {BASE_URL_ENV}, else "
                        f"http://{DEFAULT_HOST}:{DEFAULT_PORT})")
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


def run_serve(args, io: IO) -> int:
    common.load_settings(args)  # a broken settings file stops here (exit 3), not in the server
    with common.open_store(args) as store:  # so does a store that cannot be used (exit 5)
        shown_store = store.path  # a PostgreSQL URL without its password
    listener = _listen(args.host, args.port)
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    io.note(f"serving on http://{shown}:{port}/intake/ (store {shown_store}); Ctrl-C stops")
    if args.host not in ("127.0.0.1", "::1", "localhost") and not args.behind_proxy:
        io.note("warning: not the loopback address and not --behind-proxy: pages travel unencrypted")
    io.err.flush()
    io.out.flush()
    location = common.store_path(args)
    # -P: the current folder is not put on sys.path, so a server started inside some checkout runs the
    # same triage as this command (the installed one); run from a checkout, that folder is passed on.
    command = [sys.executable, "-P", "-m", "triage.web", "--fd", str(listener.fileno()),
               "--threads", str(args.threads)]
    own_parent = str(Path(triage.__file__).resolve().parent.parent)
    installed = {str(Path(p).resolve()) for p in (sysconfig.get_path("purelib"), sysconfig.get_path("platlib"))}
    if own_parent not in installed:
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [own_parent, os.environ.get("PYTHONPATH")]))
    if isinstance(location, str):  # a PostgreSQL URL: in the environment, never on a command line
        os.environ["TRIAGE_DB"] = location
    else:
        command += ["--db", str(location)]
    settings = common.settings_path(args)
    if settings:
        command += ["--settings", str(settings)]
    command += ["--kiosk"] * args.kiosk + ["--behind-proxy"] * args.behind_proxy
    os.execv(sys.executable, command)  # the web layer takes over this process (and the socket)
    return ExitCode.INTERNAL  # not reached


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

    from triage import invites
    from triage.answers import parse_answers

    answers = None
    if args.patient_id is not None:  # checked by the answers contract, like any patient reference
        answers = {"patient_id": parse_answers({"patient_id": args.patient_id}, today=date.today()).answered()["patient_id"]}
    code = invites.new_code()
    expires = invites.expiry(args.expires_days)
    with common.open_store(args) as store:
        draft = store.create_invite(invites.code_hash(code), expires_at=expires, user=common.user(args), answers=answers,
                                    language=args.lang)
    base = (args.base_url or os.environ.get(BASE_URL_ENV) or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}").rstrip("/")
    # The link opens the start page in the invitation's language too (the code alone does once it is entered).
    lang = f"?lang={args.lang}" if args.lang != "en" else ""
    io.out.write(f"code: {code}\nlink: {base}/intake/code/{code}{lang}\n")
    from triage.languages import LANGUAGES

    io.note(f"intake {draft.intake_id}: the code works until {expires.replace('T', ' ').replace('Z', ' UTC')}, "
            f"or until the answers are sent; it cannot be shown again; it opens in {LANGUAGES[args.lang]}")
    return ExitCode.OK
