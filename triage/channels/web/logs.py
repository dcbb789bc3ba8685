"""What the web process writes to its log, and what it never writes: a URL with a patient's id, a
code or a token in it. Our own loggers (``triage.*``) log route patterns, ids of intakes and reasons
(see triage.channels.web.security and triage.channels.web.cds_hooks). Other libraries log what they see: httpx logs
every request's full URL at INFO (the CDS Hooks service's search of the EHR names the patient in its
query), werkzeug logs request lines, waitress logs the path of a request that failed. So:

- their levels are raised where their INFO lines are request lines (httpx, httpcore, werkzeug), and
- every record that is not our own passes a filter that cuts URLs to scheme and host, and request
  paths and query strings to their first segment, before any handler writes it.

``protect(handler)`` applies both to a handler of the web process (`python -m triage.channels.web`).
"""

from __future__ import annotations

import logging
import re

# Loggers whose INFO (and DEBUG) lines are requests, with URLs: warnings and errors only.
QUIET = ("httpx", "httpcore", "werkzeug", "urllib3", "hpack")
OWN = "triage"

_URL = re.compile(r"\b([a-z][a-z0-9+.-]*://[^/\s\"'<>?#]+)([^\s\"'<>]*)", re.I)
# A request path (after a space, a quote or an equals sign): its first segment stays, the rest goes.
_PATH = re.compile(r"""(?<=[\s"'=(])(/[A-Za-z0-9._~-]*)(?:[/?#][^\s"'<>)]*)""")


def redact(text: str) -> str:
    """``text`` with every URL cut to scheme and host and every path to its first segment."""
    text = _URL.sub(lambda match: match.group(1) + ("/..." if match.group(2).strip("/") else match.group(2)), text)
    return _PATH.sub(r"\1/...", text)


class PrivateFilter(logging.Filter):
    """Rewrites records of other libraries' loggers (never drops them: a warning stays a warning)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == OWN or record.name.startswith(OWN + "."):
            return True
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and not record.exc_text:
            # A traceback can quote a URL or a path too: formatted and cleaned here, once.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


def protect(handler: logging.Handler) -> logging.Handler:
    """Make ``handler`` safe for the web process's log (see the module's docstring)."""
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    if not any(isinstance(existing, PrivateFilter) for existing in handler.filters):
        handler.addFilter(PrivateFilter())
    return handler
