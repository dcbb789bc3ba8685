"""`python -m triage.web`: the web layer's own entry point, which `triage serve` hands over to (by exec,
with the listening socket already bound). It builds the app and serves it with waitress until Ctrl-C.

Not meant to be typed: `triage serve` checks the options, the settings, the store and the address
first, so that every mistake is reported like any command's. What can still fail here is reported in
one line with the same exit codes (tests check they are triage.cli.common.ExitCode's).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys

EXIT_INVALID, EXIT_DEFINITION, EXIT_STORE, EXIT_INTERNAL, EXIT_INTERRUPTED = 2, 3, 5, 70, 130


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m triage.web", description=__doc__)
    parser.add_argument("--fd", type=int, required=True, help="the listening socket, bound by `triage serve`")
    # A PostgreSQL URL comes in TRIAGE_DB, so that a password in it is not on the command line.
    parser.add_argument("--db", default=os.environ.get("TRIAGE_DB"))
    parser.add_argument("--settings")
    parser.add_argument("--kiosk", action="store_true")
    parser.add_argument("--behind-proxy", action="store_true")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    if not args.db:
        parser.error("--db (or TRIAGE_DB) is required")

    from triage.errors import DefinitionError, StoreError, TriageError
    from triage.web import logs

    terminated: list[bool] = []

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    logs.protect(handler)  # no URL with a patient id or a token from other libraries' loggers
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        from pathlib import Path

        import waitress

        from triage.web.app import create_app

        app = create_app(store_path=args.db, settings_path=Path(args.settings) if args.settings else None,
                         kiosk=args.kiosk, secure_cookies=args.behind_proxy)
        listener = socket.socket(fileno=args.fd)
        proxy = {"trusted_proxy": "127.0.0.1", "trusted_proxy_headers": {"x-forwarded-proto", "x-forwarded-for"},
                 "trusted_proxy_count": 1} if args.behind_proxy else {}
        def on_terminate(*_):  # a service manager's stop: end as on Ctrl-C, but it is not a failure
            terminated.append(True)
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, on_terminate)
        # waitress returns (instead of raising) when Ctrl-C stops it.
        waitress.serve(app, sockets=[listener], threads=args.threads, ident="", clear_untrusted_proxy_headers=True,
                       max_request_body_size=4 * 1024 * 1024, **proxy)
    except KeyboardInterrupt:
        pass
    except DefinitionError as error:
        sys.stderr.write(f"error: definition: {error}\n")
        return EXIT_DEFINITION
    except StoreError as error:
        sys.stderr.write(f"error: store: {error}\n")
        return EXIT_STORE
    except TriageError as error:
        sys.stderr.write(f"error: {error}\n")
        return EXIT_INVALID
    except Exception as error:  # never a traceback for a user
        sys.stderr.write(f"error: internal: {type(error).__name__} (please report)\n")
        return EXIT_INTERNAL
    sys.stderr.write("stopped\n")
    return 0 if terminated else EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
