"""What a clinic's IT sees of the running service: log lines (text or JSON, UTC), a request id on every
request (the X-Request-Id response header, and in every log line of the request), the access log,
and optional Prometheus metrics.

Logs never hold a code, an answer, a patient reference or a token: the access log names the route
pattern (``/intake/code/<code>``), never the path or the query; a request id comes from a trusted
proxy only and only in a plain shape (so it cannot smuggle text into the log).
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
import time
from typing import Any, Callable

from flask import Flask, g, has_request_context, request

from triage.channels.web.logs import protect
from triage.channels.web.network import FROM_PROXY

access_log = logging.getLogger("triage.web.access")
REQUEST_ID_HEADER = "X-Request-Id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def route() -> str:
    """This request's URL rule (``/intake/questions/<question>``), never its path."""
    return request.url_rule.rule if request.url_rule is not None else "(no route)"


class _RequestContext(logging.Filter):
    """Adds the request id to every record logged while a request is served."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def _utc(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class _UTCText(logging.Formatter):
    """``2026-12-06T01:02:03.456Z INFO triage.web.access [id] message``."""

    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging's name)
        return _utc(record)


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        # python-json-logger: a maintained formatter (escaping, extras as fields) instead of our own.
        from pythonjsonlogger.json import JsonFormatter

        class _UTCJson(JsonFormatter):
            def formatTime(self, record, datefmt=None):  # noqa: N802
                return _utc(record)

        return _UTCJson("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})
    fmt = _UTCText("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    return fmt


def setup_logging(log_format: str = "text", stream=None) -> logging.Handler:
    """One handler on the root logger (waitress's and ours), in the chosen format, times in UTC."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(_RequestContext())
    protect(handler)  # no URL with a patient id or a token from other libraries' loggers (triage.channels.web.logs)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler


class Metrics:
    """Prometheus metrics in their own registry: requests by route and status, latency by route,
    open alerts (read from the store at each scrape), store errors."""

    def __init__(self, open_alerts: Callable[[], int]):
        from prometheus_client import CollectorRegistry, Counter, Histogram
        from prometheus_client.core import GaugeMetricFamily

        self.registry = CollectorRegistry()
        self.requests = Counter("triage_http_requests", "HTTP requests answered, by route pattern and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("triage_http_request_duration_seconds", "Time to answer a request, by route",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.store_errors = Counter("triage_store_errors", "Requests on which the store failed",
                                    registry=self.registry)
        metrics = self

        class _Alerts:
            def collect(self):
                family = GaugeMetricFamily("triage_open_alerts", "Intakes with an open red-flag alert")
                try:
                    family.add_metric([], open_alerts())
                except Exception:  # a scrape while the store is down: no value, and it is counted
                    metrics.store_errors.inc()
                    return []
                return [family]

        self.registry.register(_Alerts())

    def text(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)

    def wsgi_app(self):
        from prometheus_client import make_wsgi_app

        return make_wsgi_app(self.registry)


def install(app: Flask, metrics: Metrics | None = None) -> None:
    """Request ids, the access log and metrics on every request (install before other hooks, so a
    request refused early is logged and counted too)."""
    app.extensions["triage.metrics"] = metrics

    @app.before_request
    def _begin() -> None:
        g.started = time.perf_counter()
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        trusted = request.environ.get(FROM_PROXY) and _SANE_REQUEST_ID.match(incoming)
        g.request_id = incoming if trusted else secrets.token_hex(8)

    @app.after_request
    def _finish(response):
        g.status = response.status_code
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        return response

    @app.teardown_request
    def _log(error=None) -> None:
        elapsed = time.perf_counter() - g.started if "started" in g else 0.0
        status = g.get("status", 500)
        rule = route()
        access_log.info("%s %s %s %.1fms", request.method, rule, status, elapsed * 1000,
                        extra={"method": request.method, "route": rule, "status": status,
                               "duration_ms": round(elapsed * 1000, 1)})
        if metrics is not None:
            metrics.requests.labels(request.method, rule, str(status)).inc()
            metrics.latency.labels(rule).observe(elapsed)


def store_failed() -> None:
    """Count a store failure seen while answering a request (metrics, when on)."""
    from flask import current_app

    metrics: Any = current_app.extensions.get("triage.metrics")
    if metrics is not None:
        metrics.store_errors.inc()
