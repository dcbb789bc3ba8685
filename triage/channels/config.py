"""The service's configuration: what `triage serve` needs, from one TOML file, the environment and the
command line (command line over environment over file over defaults), each value with where it came
from, so `triage serve --check-config` can show it and a mistake names its key.

The file is ``--config FILE`` (serve only), else TRIAGE_CONFIG, else /etc/fbss-triage/triage.toml when
it exists; its keys sit under ``[serve]``. Every store command reads the same file for its store
(`configured_store`): the service and a coordinator's `triage list` cannot silently use different
stores (the terminal layer warns when --db or TRIAGE_DB chooses another one).

Plain Python and tomllib only: the terminal and the web layers both use it.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from triage.core.errors import DefinitionError, InvalidInput, Problem

SYSTEM_CONFIG = Path("/etc/fbss-triage/triage.toml")
CONFIG_ENV = "TRIAGE_CONFIG"
TABLE = "serve"
LOOPBACK_NAMES = ("localhost",)
LOG_FORMATS = ("text", "json")
SWITCH = {"on": True, "off": False, "true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 or localhost."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- one parser per key: text (environment, command line) or TOML value -> the value, or ValueError ---

def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    if not value.strip():
        raise ValueError("is empty")
    return value.strip()


def _whole(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"must be a whole number from {low} to {high}")
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            value = int(value.strip())
        if not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return value
    return parse


def _switch(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in SWITCH:
        return SWITCH[value.strip().lower()]
    raise ValueError("must be on or off")


def _choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if isinstance(value, str) and value.strip().lower() in choices:
            return value.strip().lower()
        raise ValueError(f"must be one of: {', '.join(choices)}")
    return parse


def _list(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [part for part in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("must be a list of names (in the environment: separated by commas)")
    items = [item.strip() for item in value]
    if any(not item for item in items):
        raise ValueError("has an empty entry")
    return items


def _base_url(value: Any) -> str:
    text = _text(value).rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be the address patients open, like https://intake.clinic.example")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("must have no query, fragment or user name")
    if parts.path not in ("", "/"):  # the pages' own links and redirects start at the root
        raise ValueError("must be the scheme and host name only (the pages are served at the root, not under a path)")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError("must start with https:// (answers must travel encrypted); http:// only for a "
                         "loopback address")
    try:
        parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    return text


_HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$")


def _host_names(value: Any) -> list[str]:
    names = [name.lower().rstrip(".") for name in _list(value)]
    for name in names:
        bare = name.strip("[]")
        if not _HOST_NAME.match(name):
            try:
                ipaddress.ip_address(bare)
            except ValueError:
                raise ValueError(f"{name!r} is not a host name (give names without scheme or port)") from None
    return names


def _trusted_proxies(value: Any) -> list[str] | int:
    """Addresses or networks of the proxies in front (``10.0.0.5``, ``10.0.0.0/24``), or a number of
    hops: the proxies in front, whoever connects (only when nothing else can reach the port)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _whole(1, 10)(value)
    if isinstance(value, str) and value.strip().isdigit():
        return _whole(1, 10)(value)
    entries = _list(value)
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is not an address or network (like 10.0.0.5 or 10.0.0.0/24), "
                             "nor a number of proxies") from None
    return entries


def _path_text(value: Any) -> str:
    return _text(value)


@dataclass(frozen=True)
class Key:
    name: str
    parse: Callable[[Any], Any]
    default: Any
    help: str
    secret: bool = False

    @property
    def env(self) -> str:
        return "TRIAGE_" + self.name.upper()

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765

KEYS: dict[str, Key] = {key.name: key for key in (
    Key("db", _path_text, None, "the store: a file, or a postgresql:// URL (default: the per-user store)", secret=True),
    Key("settings", _path_text, None, "the clinic settings TOML (default: the shipped defaults)"),
    Key("base_url", _base_url, None, "the address patients open (https://...): invitation links, the Origin "
        "check, Secure cookies and HSTS follow it"),
    Key("host", _text, DEFAULT_HOST, "the address to listen on"),
    Key("port", _whole(0, 65535), DEFAULT_PORT, "the port to listen on (0 = any free port)"),
    Key("threads", _whole(1, 64), 8, "requests served at once"),
    Key("trusted_proxies", _trusted_proxies, None, "proxies whose X-Forwarded-For/-Proto and X-Request-Id are "
        "believed: addresses or networks, or a number of proxies in front"),
    Key("allowed_hosts", _host_names, None, "host names a request may name (default: the base URL's; "
        "without either, any)"),
    Key("log_format", _choice(*LOG_FORMATS), "text", "text, or json (one JSON object a line)"),
    Key("kiosk", _switch, False, "a reception tablet: the start page also offers a new questionnaire"),
    Key("metrics", _switch, False, "Prometheus metrics on their own port (metrics_port)"),
    Key("metrics_host", _text, DEFAULT_HOST, "the address the metrics port listens on"),
    Key("metrics_port", _whole(0, 65535), 9765, "the port of /metrics, when metrics are on (0 = any free port)"),
)}


@dataclass
class Setting:
    value: Any
    source: str  # "default", "FILE", "TRIAGE_X", "--x"


@dataclass
class ServeConfig:
    file: Path | None
    file_source: str  # how the file was found: --config, TRIAGE_CONFIG, the system path, or none
    values: dict[str, Setting] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name].value
        except KeyError:
            raise AttributeError(name) from None

    def source(self, name: str) -> str:
        return self.values[name].source

    @property
    def secure(self) -> bool:
        """Served over https (as the base URL says): Secure cookies and HSTS."""
        return bool(self.base_url and self.base_url.startswith("https://"))

    def hosts(self) -> list[str]:
        """The host names a request may name; empty: any."""
        if self.allowed_hosts:
            return list(self.allowed_hosts)
        return [urlsplit(self.base_url).hostname] if self.base_url else []

    def shown(self, name: str) -> str:
        """A value as --check-config prints it: secrets masked."""
        value = self.values[name].value
        if value is None:
            return "(not set)"
        if name == "db":
            return mask_url(str(value))
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, list):
            return ", ".join(value)
        return str(value)


def mask_url(text: str) -> str:
    """A URL's password as ****; anything else as given."""
    if "://" not in text:
        return text
    parts = urlsplit(text)
    if parts.password is None:
        return text
    netloc = parts.netloc.replace(f":{parts.password}@", ":****@", 1)
    return parts._replace(netloc=netloc).geturl()


def _without_password(url: str) -> str:
    """A URL without its password: the same database whether the password is in the URL (the service's
    TRIAGE_DB) or elsewhere (a coordinator's ~/.pgpass)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", "@", 1)).geturl()


def find_file(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> tuple[Path | None, str]:
    """The configuration file and how it was found: ``--config``, else TRIAGE_CONFIG, else the system
    file when it exists. A file that was named but does not exist is an error (exit 3)."""
    environ = os.environ if environ is None else environ
    if explicit is not None:
        where, value = "--config", explicit
    elif CONFIG_ENV in environ:
        where, value = CONFIG_ENV, environ[CONFIG_ENV]
    else:
        return (SYSTEM_CONFIG, "system file") if _is_file(SYSTEM_CONFIG, "the system file") else (None, "none")
    if not value.strip():
        raise InvalidInput([Problem(where, "is empty; give the configuration file, or leave it out")])
    path = Path(value).expanduser().absolute()  # relative paths inside it are relative to its folder
    if not _is_file(path, where):
        raise DefinitionError(f"{path}: configuration file ({where}) does not exist")
    return path, where


def _is_file(path: Path, where: str) -> bool:
    """Whether the file is there; a folder this account may not look into (a service's /etc folder,
    0750) is said plainly: on that machine the service's account runs triage (docs/deployment.md)."""
    try:
        return path.is_file()
    except PermissionError:
        raise DefinitionError(f"{path}: configuration file ({where}) cannot be read by this account (permission "
                              "denied); run triage as the service's account (sudo fbss-triage ..., see "
                              "docs/deployment.md) or ask for read access") from None


def read_file(path: Path) -> dict[str, Any]:
    """The ``[serve]`` table of a configuration file; a file that cannot be read, is not TOML, or
    holds an unknown key is broken (DefinitionError, exit 3)."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DefinitionError(f"{path}: cannot read the configuration file ({(error.strerror or str(error)).lower()})"
                              ) from None
    except UnicodeDecodeError:
        raise DefinitionError(f"{path}: the configuration file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise DefinitionError(f"{path}: not valid TOML ({error})") from None
    unknown_tables = sorted(set(data) - {TABLE})
    if unknown_tables:
        raise DefinitionError(f"{path}: unknown table or key {unknown_tables[0]!r} (the keys go under [{TABLE}])")
    table = data.get(TABLE, {})
    if not isinstance(table, dict):
        raise DefinitionError(f"{path}: {TABLE} must be a table ([{TABLE}])")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], list(KEYS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(KEYS)})"
        raise DefinitionError(f"{path}: [{TABLE}] has an unknown key {unknown[0]!r}{hint}")
    return table


def _relative_to(path_text: str, folder: Path) -> str:
    """A store or settings path in the file is relative to the file's folder (a URL stays as it is)."""
    if "://" in path_text:
        return path_text
    path = Path(path_text).expanduser()
    return os.path.normpath(path if path.is_absolute() else folder / path)


def resolve(given: Mapping[str, Any] | None = None, *, config_file: str | None = None,
            environ: Mapping[str, str] | None = None) -> ServeConfig:
    """The effective configuration: ``given`` (command-line values, None when not given) over the
    environment over the file over the defaults. A bad value raises InvalidInput naming its key and
    where it came from (exit 2); a broken file raises DefinitionError (exit 3)."""
    environ = os.environ if environ is None else environ
    given = given or {}
    path, found = find_file(config_file, environ)
    table = read_file(path) if path else {}
    config = ServeConfig(path, found)
    for name, key in KEYS.items():
        if given.get(name) is not None:
            raw, source = given[name], key.option
        elif key.env in environ:
            raw, source = environ[key.env], key.env
        elif name in table:
            raw, source = table[name], f"{path}"
        else:
            config.values[name] = Setting(key.default, "default")
            continue
        where = f"{name} in {path}" if source == str(path) else source
        try:
            value = key.parse(raw)
        except ValueError as error:
            raise InvalidInput([Problem(where, str(error))]) from None
        if source == str(path) and name in ("db", "settings"):
            value = _relative_to(value, path.parent)
        config.values[name] = Setting(value, source)
    return config


def configured_store(environ: Mapping[str, str] | None = None) -> tuple[str, Path] | None:
    """The store the service's configuration file names, and the file (None without one): what every
    store command falls back to after --db and TRIAGE_DB."""
    path, _ = find_file(None, environ)
    if path is None:
        return None
    table = read_file(path)
    if "db" not in table:
        return None
    try:
        value = KEYS["db"].parse(table["db"])
    except ValueError as error:
        raise InvalidInput([Problem(f"db in {path}", str(error))]) from None
    return _relative_to(value, path.parent), path


def configured_settings(environ: Mapping[str, str] | None = None) -> str | None:
    """The settings file the service's configuration names (every command reads the same settings)."""
    path, _ = find_file(None, environ)
    if path is None:
        return None
    table = read_file(path)
    if "settings" not in table:
        return None
    try:
        value = KEYS["settings"].parse(table["settings"])
    except ValueError as error:
        raise InvalidInput([Problem(f"settings in {path}", str(error))]) from None
    return _relative_to(value, path.parent)


def same_store(first: Path | str, second: Path | str) -> bool:
    """Whether two store locations are the same store (files by their resolved path; URLs without
    their password)."""
    first_url, second_url = "://" in str(first), "://" in str(second)
    if first_url or second_url:
        return first_url and second_url and _without_password(str(first)) == _without_password(str(second))
    return Path(first).expanduser().resolve() == Path(second).expanduser().resolve()
