"""Where the pages are served, from configuration and never from what a request claims: the proxies
whose forwarding headers are believed, the host names a request may name, and the public base URL
that invitation links, the Origin check, Secure cookies and HSTS follow.

``ProxyHeaders`` wraps the WSGI app: from a trusted proxy it takes the client address
(X-Forwarded-For) and scheme (X-Forwarded-Proto) and marks the request as forwarded (a request id
is accepted only then); from anyone else it drops those headers.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request

FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
                     "HTTP_X_FORWARDED_PORT", "HTTP_FORWARDED", "HTTP_X_REQUEST_ID")
FROM_PROXY = "triage.from_trusted_proxy"
# Probes by a load balancer or a service manager name an address, not the public host name.
UNCHECKED_HOST_PATHS = ("/healthz", "/readyz")
LOOPBACK_PROXIES = ("127.0.0.1", "::1")
# Each refused host name is logged once per process, and only this many names (a scan cannot flood the log).
REFUSED_NAMES_LOGGED = 20
log = logging.getLogger("triage.web")


@dataclass(frozen=True)
class Network:
    base_url: str | None = None  # https://intake.clinic.example (no trailing slash)
    allowed_hosts: tuple[str, ...] = ()  # empty: any host name
    trusted_proxies: tuple[str, ...] | int = ()  # addresses/networks, or a number of hops
    secure_cookies: bool = False
    _networks: tuple = field(default=(), compare=False)

    @classmethod
    def build(cls, *, base_url: str | None = None, allowed_hosts=None, trusted_proxies=None,
              secure_cookies: bool = False) -> "Network":
        base_url = base_url.rstrip("/") if base_url else None
        hosts = tuple(h.lower().strip("[]") for h in allowed_hosts or ())
        if not hosts and base_url:
            hosts = (urlsplit(base_url).hostname,)
        proxies = trusted_proxies if isinstance(trusted_proxies, int) else tuple(trusted_proxies or ())
        networks = () if isinstance(proxies, int) else tuple(ipaddress.ip_network(p, strict=False) for p in proxies)
        secure = secure_cookies or bool(base_url and base_url.startswith("https://"))
        return cls(base_url, hosts, proxies, secure, networks)

    @property
    def https(self) -> bool:
        return bool(self.base_url and self.base_url.startswith("https://"))

    def trusts(self, address: str | None) -> bool:
        if isinstance(self.trusted_proxies, int):
            return True
        try:
            ip = ipaddress.ip_address((address or "").split("%")[0])
        except ValueError:
            return False
        return any(ip in net for net in self._networks)

    def client(self, forwarded_for: list[str]) -> str | None:
        """The client's address in X-Forwarded-For (appended to by each proxy): with a count, that many
        entries from the right; with addresses, the nearest entry that is not a trusted proxy."""
        if not forwarded_for:
            return None
        if isinstance(self.trusted_proxies, int):
            return forwarded_for[-min(self.trusted_proxies, len(forwarded_for))]
        for address in reversed(forwarded_for):
            if not self.trusts(address):
                return address
        return forwarded_for[0]

    def host_allowed(self, host: str) -> bool:
        if not self.allowed_hosts:
            return True
        name = host.lower()
        if name.startswith("["):  # [::1]:8765
            name = name[1:name.find("]")]
        elif name.count(":") == 1:
            name = name.rsplit(":", 1)[0]
        return name.rstrip(".") in self.allowed_hosts


class ProxyHeaders:
    """WSGI middleware: forwarding headers believed from trusted proxies only."""

    def __init__(self, app, network: Network):
        self.app, self.network = app, network

    def __call__(self, environ, start_response):
        network = self.network
        if network.trusted_proxies and network.trusts(environ.get("REMOTE_ADDR")):
            environ[FROM_PROXY] = True
            chain = [part.strip() for part in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
            client = network.client(chain)
            if client:
                environ["REMOTE_ADDR"] = client
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        else:
            for name in FORWARDED_HEADERS:
                environ.pop(name, None)
        return self.app(environ, start_response)


def network() -> Network:
    return current_app.extensions["triage.network"]


def public_url() -> str:
    """The address patients open: the configured base URL, else what this request was sent to."""
    return network().base_url or request.host_url.rstrip("/")


def expected_origin() -> str:
    """The Origin a form of ours is posted from."""
    base = network().base_url
    if base:
        parts = urlsplit(base)
        default = {"https": 443, "http": 80}[parts.scheme]
        port = f":{parts.port}" if parts.port and parts.port != default else ""
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        return f"{parts.scheme}://{host}{port}"  # as a browser sends it: no default port, lower case
    return request.host_url.rstrip("/")


def install(app: Flask, network_: Network) -> None:
    app.extensions["triage.network"] = network_
    app.config["SESSION_COOKIE_SECURE"] = network_.secure_cookies
    app.wsgi_app = ProxyHeaders(app.wsgi_app, network_)

    refused: set[str] = set()
    lock = threading.Lock()

    @app.before_request
    def _host() -> None:
        # A host name we do not serve (a forged Host header, DNS pointed at us): a plain 400.
        if request.path not in UNCHECKED_HOST_PATHS and not network_.host_allowed(request.host):
            _say_refused(request.host)
            abort(400)

    def _say_refused(host: str) -> None:
        # The administrator's clue when every page is a 400: a name the configuration does not list
        # (base_url changed in the configuration file but the service not restarted, a new DNS name).
        name = "".join(c if c.isprintable() and c.isascii() else "?" for c in host[:100])
        with lock:
            if name in refused or len(refused) >= REFUSED_NAMES_LOGGED:
                return
            refused.add(name)
        log.warning("refused a request for the host name %s: this service answers only %s (base_url, "
                    "allowed_hosts; see docs/operations.md)", name, ", ".join(network_.allowed_hosts))

    @app.after_request
    def _hsts(response):
        if network_.https or request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
