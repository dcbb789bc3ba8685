"""`python -m triage.channels.web`: the web layer's own entry point, which `triage serve` hands over to (by exec,
with the listening socket already bound). It builds the app and serves it with waitress until Ctrl-C.

Not meant to be typed: `triage serve` checks the options, the settings, the store and the address
first, so that every mistake is reported like any command's. What can still fail here is reported in
one line with the same exit codes (tests check they are triage.channels.cli.common.ExitCode's).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys

EXIT_INVALID, EXIT_DEFINITION, EXIT_STORE, EXIT_INTERNAL, EXIT_INTERRUPTED = 2, 3, 5, 70, 130
# waitress as `triage serve` runs it (the browser tests' in-process server uses the same): no server
# name in the answers; a body over the largest a page takes refused before the app reads it (server_options).
# Forwarding headers are judged by triage.channels.web.network (trusted proxies from the configuration).
SERVER_OPTIONS = {"ident": "", "max_request_body_size": 4 * 1024 * 1024}


def server_options(app) -> dict:
    """waitress's options for this app: its body limit is the largest request a page of it takes (the
    upload pages': the settings' files a record may hold), never less than SERVER_OPTIONS's; each page
    refuses more than its own limit before reading the form (triage.channels.web.security)."""
    largest = max(SERVER_OPTIONS["max_request_body_size"], app.config.get("TRIAGE_UPLOAD_BODY_BYTES", 0))
    return {**SERVER_OPTIONS, "max_request_body_size": largest}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m triage.channels.web", description=__doc__)
    parser.add_argument("--fd", type=int, required=True, help="the listening socket, bound by `triage serve`")
    # A PostgreSQL URL comes in TRIAGE_DB, so that a password in it is not on the command line.
    parser.add_argument("--db", default=os.environ.get("TRIAGE_DB"))
    parser.add_argument("--settings")
    parser.add_argument("--kiosk", action="store_true")
    parser.add_argument("--behind-proxy", action="store_true")
    parser.add_argument("--threads", type=int, default=8)
    # The rest of the configuration, as `triage serve` resolved it (triage.channels.config).
    parser.add_argument("--base-url")
    parser.add_argument("--allowed-hosts", default="", help="comma-separated")
    parser.add_argument("--trusted-proxies", default="", help="comma-separated addresses/networks, or a count")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    parser.add_argument("--metrics-fd", type=int, help="the metrics socket, bound by `triage serve`")
    args = parser.parse_args(argv)
    if not args.db:
        parser.error("--db (or TRIAGE_DB) is required")

    from triage.core.errors import DefinitionError, StoreError, TriageError

    terminated: list[bool] = []
    say = _line(args.log_format)

    try:
        from pathlib import Path

        import waitress

        from triage.channels.web.app import create_app
        from triage.channels.web.network import LOOPBACK_PROXIES
        from triage.channels.web.observability import setup_logging

        setup_logging(args.log_format)
        proxies = [part for part in args.trusted_proxies.split(",") if part]
        trusted = int(proxies[0]) if len(proxies) == 1 and proxies[0].isdigit() else proxies
        if args.behind_proxy and not trusted:  # --behind-proxy alone: a proxy on this machine
            trusted = list(LOOPBACK_PROXIES)
        app = create_app(store_path=args.db, settings_path=Path(args.settings) if args.settings else None,
                         kiosk=args.kiosk, secure_cookies=args.behind_proxy, base_url=args.base_url,
                         allowed_hosts=[part for part in args.allowed_hosts.split(",") if part],
                         trusted_proxies=trusted, metrics=args.metrics_fd is not None)
        listener = socket.socket(fileno=args.fd)
        sockets, served = [listener], app
        if args.metrics_fd is not None:
            # One waitress, two sockets: a request that came in on the metrics port gets the metrics.
            metrics_socket = socket.socket(fileno=args.metrics_fd)
            sockets.append(metrics_socket)
            served = _by_port(app, app.extensions["triage.metrics"].wsgi_app(), metrics_socket.getsockname()[1])
        def on_terminate(*_):  # a service manager's stop: end as on Ctrl-C, but it is not a failure
            terminated.append(True)
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, on_terminate)
        # waitress returns (instead of raising) when Ctrl-C stops it.
        waitress.serve(served, sockets=sockets, threads=args.threads, **server_options(app))
    except KeyboardInterrupt:
        pass
    except DefinitionError as error:
        say(f"error: triage serve: definition: {error}")
        return EXIT_DEFINITION
    except StoreError as error:
        say(f"error: triage serve: store: {error}")
        return EXIT_STORE
    except TriageError as error:
        say(f"error: triage serve: {error}")
        return EXIT_INVALID
    except Exception as error:  # never a traceback for a user
        say(f"error: triage serve: internal: {type(error).__name__} (please report)")
        return EXIT_INTERNAL
    say("stopped")
    return 0 if terminated else EXIT_INTERRUPTED


def _line(log_format: str):
    """How the last words are written: a plain line, or (log_format json) one JSON object like the log's."""

    def say(text: str) -> None:
        if log_format == "json":
            import json
            import time

            now = time.time()
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
            level = "ERROR" if text.startswith("error: ") else "INFO"
            text = json.dumps({"time": stamp, "level": level, "logger": "triage.serve", "message": text})
        sys.stderr.write(text + "\n")

    return say


def _by_port(app, metrics_app, metrics_port: int):
    port = str(metrics_port)

    def dispatch(environ, start_response):
        if environ.get("SERVER_PORT") == port:
            if environ.get("PATH_INFO") != "/metrics":
                start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
                return [b"not found: the metrics are at /metrics\n"]
            return metrics_app(environ, start_response)
        return app(environ, start_response)

    return dispatch


if __name__ == "__main__":
    sys.exit(main())
