"""CDS Hooks 2.0.1: the pre-consultation summary as one card in the clinic's EHR (framework-free core).

The EHR (the CDS client) opens a patient's chart and calls our `patient-view` service with the
patient's latest QuestionnaireResponse of our questionnaire (prefetched, or fetched here from its FHIR
server). The response is triaged by exactly the code `triage assess` uses, and the result becomes one
card: decision support only, never a suggestion, an order or a diagnosis.

Trust: every call carries the EHR's signed JWT (specification, "Trusting CDS Clients"). It is checked
against the JWKS configured for its issuer (a file or an https URL: never a URL the token names), for
an asymmetric algorithm, the audience (our own configured URL, never the request's Host header),
expiry and a bounded lifetime, and a `jti` never seen before. Anything else is 401.

Nothing here logs or raises with patient data: error messages name fields, never values. The web
layer (``triage/web/cds_hooks.py``) only moves bytes between HTTP and :class:`CdsHooksService`.
flask, PyJWT and httpx are imported only inside the functions that need them.
"""

from __future__ import annotations

import re
import threading
import time
import tomllib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from triage.errors import DefinitionError, EngineError, InvalidInput

if TYPE_CHECKING:  # annotations only
    from triage.questionnaire import Questionnaire
    from triage.result import Result
    from triage.settings import Settings

SPEC_VERSION = "2.0.1"
HOOK = "patient-view"
SERVICE_ID = "fbss-preconsultation-summary"
PREFETCH_PATIENT = "patient"
PREFETCH_RESPONSE = "questionnaireResponse"
# Only asymmetric algorithms (the specification forbids `none` and shared-secret HMAC).
ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA")
KEY_TYPES = {"ES": "EC", "RS": "RSA", "PS": "RSA", "Ed": "OKP"}
MAX_BODY_BYTES = 1024 * 1024

# The indicator of each status (and, for `urgent`, of each urgency tier). Unlisted urgent tiers get
# `critical`: an unexpected value is shown as the most urgent, never the least.
URGENT_INDICATOR = {"emergency": "critical", "same_day": "critical", "soon": "warning"}
STATUS_INDICATOR = {"too_early": "warning", "records_needed": "warning", "ready_for_evaluation": "info"}
STATUS_WORDS = {
    "urgent": "URGENT - red flag reported",
    "too_early": "too early to evaluate (healing window)",
    "records_needed": "records or answers still needed",
    "ready_for_evaluation": "ready for evaluation",
}
URGENCY_WORDS = {
    "emergency": "emergency, now",
    "same_day": "same day",
    "soon": "within a few days",
    "routine": "routine",
}
STEP_STATUS_WORDS = {"done": "done", "to_do": "to do", "attention": "attention", "not_applicable": "not applicable"}
SUMMARY_LIMIT = 140  # characters, exclusive (specification: "<140-character summary")


# --- errors: each carries its HTTP status and a message without patient data -----------------------

class CdsHooksError(Exception):
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadRequest(CdsHooksError):
    status = 400


class Unauthorized(CdsHooksError):
    status = 401


class UnknownService(CdsHooksError):
    status = 404


class PreconditionFailed(CdsHooksError):
    """412: the data needed is neither prefetched nor retrievable from the EHR's FHIR server."""

    status = 412


class Unavailable(CdsHooksError):
    """503: we cannot check trust right now (the issuer's JWKS cannot be read)."""

    status = 503


class TriageFailed(CdsHooksError):
    """500: the engine could not produce a result faithfully; no card is given (fail closed)."""

    status = 500


# --- configuration -------------------------------------------------------------------------------

class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _is_local(url: str) -> bool:
    return urlsplit(url).hostname in ("localhost", "127.0.0.1", "::1")


def _https_url(value: str, field: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"{field} must be an absolute https URL")
    if parts.scheme == "http" and not _is_local(value):
        raise ValueError(f"{field} must use https (plain http only for localhost)")
    return value.rstrip("/")


class TrustedClient(_Config):
    """One EHR allowed to call us: its JWT issuer and where its public keys are."""

    issuer: str = Field(min_length=1)
    # A JWKS file path, or an https URL; a token's own `jku` header must name this URL or is refused.
    jwks: str = Field(min_length=1)
    # The FHIR servers (base URLs) this client may send as `fhirServer`. Only these are ever
    # contacted, and only when a prefetch is missing: a request cannot make us call another host.
    fhir_servers: tuple[str, ...] = ()

    @field_validator("fhir_servers")
    @classmethod
    def _servers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_https_url(url, "fhir_servers") for url in value)

    @property
    def jwks_url(self) -> str | None:
        return self.jwks if self.jwks.startswith(("https://", "http://")) else None

    @field_validator("jwks")
    @classmethod
    def _jwks_location(cls, value: str) -> str:
        if value.startswith(("https://", "http://")):
            return _https_url(value, "jwks")
        return value


class CdsHooksConfig(_Config):
    """The `[cds_hooks]` settings: who may call, our own public URL, and what the card links to."""

    # Our public base URL as the EHR calls it (behind the clinic's TLS proxy). The JWT audience is
    # built from it, never from the request, so a forged Host header cannot change what is accepted.
    base_url: str
    clients: tuple[TrustedClient, ...] = Field(min_length=1)
    # Where `source.url` points: the rule catalogue. Default: {base_url}/rules.
    rule_catalogue_url: str | None = None
    # The staff summary page of one intake, with `{intake_id}`; no link without it.
    staff_summary_url: str | None = None
    # The identifier system by which a QuestionnaireResponse names our intake (for the link).
    intake_identifier_system: str = "https://fbss-triage.example.org/fhir/intake"
    # With no questionnaire on file: no card (false) or one info card saying so (true).
    card_when_no_response: bool = False
    fhir_timeout_seconds: float = Field(5.0, gt=0, le=30)
    jwks_timeout_seconds: float = Field(5.0, gt=0, le=30)
    jwks_refresh_seconds: int = Field(300, ge=10, le=86400)
    # A token may be valid for at most this long from now (bounds the replay cache), with this skew.
    max_token_lifetime_seconds: int = Field(300, ge=10, le=3600)
    clock_skew_seconds: int = Field(30, ge=0, le=300)
    replay_cache_size: int = Field(100_000, ge=100)

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        return _https_url(value, "base_url")

    @field_validator("rule_catalogue_url")
    @classmethod
    def _catalogue(cls, value: str | None) -> str | None:
        return None if value is None else _https_url(value, "rule_catalogue_url")

    @field_validator("staff_summary_url")
    @classmethod
    def _staff(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "{intake_id}" not in value:
            raise ValueError("staff_summary_url must contain {intake_id}")
        _https_url(value.replace("{intake_id}", "1"), "staff_summary_url")
        return value

    @model_validator(mode="after")
    def _one_client_per_issuer(self) -> "CdsHooksConfig":
        issuers = [client.issuer for client in self.clients]
        if len(set(issuers)) != len(issuers):
            raise ValueError("clients: each issuer may be listed once")
        return self

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/cds-services"

    def service_url(self, service_id: str = SERVICE_ID) -> str:
        return f"{self.base_url}/cds-services/{service_id}"

    @property
    def catalogue_url(self) -> str:
        return self.rule_catalogue_url or f"{self.base_url}/rules"

    def client(self, issuer: str) -> TrustedClient | None:
        return next((client for client in self.clients if client.issuer == issuer), None)


def load_config(path: Path) -> CdsHooksConfig:
    """Read the `[cds_hooks]` table of a TOML file; relative JWKS paths are relative to that file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DefinitionError(f"{path}: cannot read ({error.strerror or error})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise DefinitionError(f"{path}: not valid TOML ({error})") from None
    table = data.get("cds_hooks")
    if not isinstance(table, dict):
        raise DefinitionError(f"{path}: no [cds_hooks] table")
    for client in table.get("clients", []) if isinstance(table.get("clients"), list) else []:
        jwks = client.get("jwks") if isinstance(client, dict) else None
        if isinstance(jwks, str) and not jwks.startswith(("https://", "http://")) and not Path(jwks).is_absolute():
            client["jwks"] = str(path.parent / jwks)
    try:
        return CdsHooksConfig.model_validate(table)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "cds_hooks"
        raise DefinitionError(f"{path}: cds_hooks.{where}: {first['msg'].removeprefix('Value error, ')}") from None


# --- trust: the EHR's signed JWT ----------------------------------------------------------------

class ReplayCache:
    """Every `jti` seen, per issuer, until its token expires. Thread-safe; bounded: when full of
    unexpired tokens it refuses new ones (503) rather than forget one and allow a replay."""

    def __init__(self, max_entries: int = 100_000):
        self.max_entries = max_entries
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def remember(self, issuer: str, jti: str, expires: float, now: float) -> None:
        key = (issuer, jti)
        with self._lock:
            if key in self._seen and self._seen[key] >= now:
                raise Unauthorized("token already used (jti replayed)")
            if len(self._seen) >= self.max_entries:
                self._seen = {k: exp for k, exp in self._seen.items() if exp >= now}
                if len(self._seen) >= self.max_entries:
                    raise Unavailable("too many live tokens to check for replay; try again shortly")
            self._seen[key] = expires

    def __len__(self) -> int:
        return len(self._seen)


class StoreReplays:
    """The replay check in the store (``Store.use_token``): every `triage serve` process on the store
    sees each `jti`, so a token is accepted once however many processes a balancer sends it to.
    ``store``: this thread's store."""

    def __init__(self, store: Callable[[], Any]):
        self._store = store

    def remember(self, issuer: str, jti: str, expires: float, now: float) -> None:
        from triage.errors import StoreError

        try:
            first = self._store().use_token(issuer, jti, expires, now)
        except StoreError:
            raise Unavailable("the replay check cannot reach the store; try again shortly") from None
        if not first:
            raise Unauthorized("token already used (jti replayed)")


class JwksSource:
    """The public keys of one trusted client, from its file or URL, cached and re-read (at most once
    per refresh interval) when a token names a key id not yet known (key rotation)."""

    def __init__(self, client: TrustedClient, *, refresh_seconds: float, timeout: float,
                 clock: Callable[[], float], transport: Any = None):
        self.client = client
        self.refresh_seconds = refresh_seconds
        self.timeout = timeout
        self.clock = clock
        self.transport = transport
        self._keys: dict[str, dict[str, Any]] | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def key(self, kid: str) -> dict[str, Any] | None:
        with self._lock:
            now = self.clock()
            stale = self._keys is None or now - self._loaded_at >= self.refresh_seconds
            if stale or (kid not in self._keys and now - self._loaded_at >= 10):
                try:
                    self._keys = self._load()
                except Unavailable:
                    # The keys already read stay usable while the issuer's JWKS is briefly
                    # unreachable; a key we never saw cannot be checked (503).
                    if self._keys is None or kid not in self._keys:
                        raise
                self._loaded_at = now
            return self._keys.get(kid)

    def _load(self) -> dict[str, dict[str, Any]]:
        url = self.client.jwks_url
        if url:
            import httpx

            try:
                with httpx.Client(timeout=self.timeout, transport=self.transport, follow_redirects=False) as http:
                    response = http.get(url, headers={"Accept": "application/json"})
                response.raise_for_status()
                document = response.json()
            except (httpx.HTTPError, ValueError) as error:
                raise Unavailable(f"cannot read the JWKS of issuer {self.client.issuer}: {type(error).__name__}") from None
        else:
            import json

            try:
                document = json.loads(Path(self.client.jwks).read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise Unavailable(f"cannot read the JWKS file of issuer {self.client.issuer}: {type(error).__name__}") from None
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise Unavailable(f"the JWKS of issuer {self.client.issuer} has no keys list")
        return {key["kid"]: key for key in keys if isinstance(key, dict) and isinstance(key.get("kid"), str)}


class ClientTrust:
    """Checks the `Authorization: Bearer <JWT>` of each call (specification, "Trusting CDS Clients")."""

    def __init__(self, config: CdsHooksConfig, *, clock: Callable[[], float] = time.time, transport: Any = None,
                 replays: ReplayCache | StoreReplays | None = None):
        self.config = config
        self.clock = clock
        # In memory for one process; ``StoreReplays`` when processes share a store (`triage serve`).
        self.replays = replays or ReplayCache(config.replay_cache_size)
        self.sources = {
            client.issuer: JwksSource(client, refresh_seconds=config.jwks_refresh_seconds,
                                      timeout=config.jwks_timeout_seconds, clock=clock, transport=transport)
            for client in config.clients
        }

    def verify(self, authorization: str | None, audience: str) -> dict[str, Any]:
        """The verified claims, or Unauthorized naming what failed (never the token itself)."""
        import jwt

        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("a signed JWT is required: Authorization: Bearer <token>")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthorized("the bearer token is not a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise Unauthorized(f"JWT algorithm {algorithm!r} is not accepted (asymmetric algorithms only)")
        if header.get("typ") not in ("JWT", None) and str(header.get("typ")).upper() != "JWT":
            raise Unauthorized("JWT header typ must be JWT")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("JWT header has no kid")
        issuer = unverified.get("iss")
        client = self.config.client(issuer) if isinstance(issuer, str) else None
        if client is None:
            raise Unauthorized("JWT issuer is not a trusted CDS client")
        if "jku" in header and header["jku"] != client.jwks_url:
            raise Unauthorized("JWT jku is not the JWKS configured for this issuer")
        jwk = self.sources[client.issuer].key(kid)
        if jwk is None:
            raise Unauthorized("JWT kid is not in the issuer's JWKS")
        if jwk.get("alg") not in (None, algorithm) or jwk.get("kty") != KEY_TYPES[algorithm[:2]]:
            raise Unauthorized("JWT algorithm does not match the issuer's key")
        try:
            key = jwt.PyJWK(jwk, algorithm=algorithm)
            claims = jwt.decode(
                token, key=key.key, algorithms=[algorithm], audience=audience, issuer=client.issuer,
                # expiry and issue time are checked below against our clock, with our limits
                options={"require": ["iss", "aud", "exp", "iat", "jti"], "verify_exp": False, "verify_iat": False,
                         "verify_nbf": False},
            )
        except jwt.InvalidAudienceError:
            raise Unauthorized("JWT audience is not this endpoint's URL") from None
        except jwt.MissingRequiredClaimError as error:
            raise Unauthorized(f"JWT has no {error.claim} claim") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise Unauthorized("JWT signature does not verify with the issuer's key") from None
        now = self.clock()
        skew = self.config.clock_skew_seconds
        expires, issued = claims["exp"], claims["iat"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (expires, issued)):
            raise Unauthorized("JWT exp and iat must be numbers")
        if expires + skew <= now:
            raise Unauthorized("JWT has expired")
        if issued - skew > now:
            raise Unauthorized("JWT was issued in the future")
        not_before = claims.get("nbf")
        if not_before is not None and (not isinstance(not_before, (int, float)) or not_before - skew > now):
            raise Unauthorized("JWT is not valid yet (nbf)")
        if expires - now > self.config.max_token_lifetime_seconds + skew:
            raise Unauthorized(f"JWT is valid for too long (at most {self.config.max_token_lifetime_seconds} s)")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            raise Unauthorized("JWT jti must be a non-empty string of at most 256 characters")
        self.replays.remember(client.issuer, jti, expires + skew, now)
        return claims


# --- the request --------------------------------------------------------------------------------

class _Request(BaseModel):
    # Unknown fields are ignored (a client may send extensions); known ones are checked strictly.
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class FhirAuthorization(_Request):
    access_token: str = Field(min_length=1)
    token_type: str
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None

    @field_validator("token_type")
    @classmethod
    def _bearer(cls, value: str) -> str:
        if value.lower() != "bearer":
            raise ValueError("must be Bearer")
        return value


class PatientViewContext(_Request):
    userId: str | None = None
    patientId: str = Field(min_length=1)
    encounterId: str | None = None


class HookRequest(_Request):
    hook: str
    hookInstance: str = Field(min_length=1)
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: PatientViewContext
    prefetch: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _server_with_token(self) -> "HookRequest":
        if self.fhirAuthorization is not None and not self.fhirServer:
            raise ValueError("fhirServer is required with fhirAuthorization")
        if self.fhirServer:
            _https_url(self.fhirServer, "fhirServer")
        return self


def parse_request(body: Any) -> HookRequest:
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    try:
        request = HookRequest.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "request"
        # the message names the field and the rule broken, never the value sent
        raise BadRequest(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None
    if request.hook != HOOK:
        raise BadRequest(f"hook must be {HOOK}")
    return request


# --- FHIR data: prefetched, or fetched from the EHR's FHIR server --------------------------------

def questionnaire_urls(questionnaire: Questionnaire) -> list[str]:
    """The canonical URLs a response of ours may name: the full questionnaire and, where there is
    one, the patient form (the same questions without the coordinator-only ones)."""
    info = questionnaire.questionnaire
    return [url for url in (info.fhir_url, getattr(info, "fhir_patient_url", None)) if url]


def prefetch_templates(questionnaire: Questionnaire) -> dict[str, str]:
    # Several canonical URLs are one search parameter with values separated by commas (FHIR "OR").
    return {
        PREFETCH_PATIENT: "Patient/{{context.patientId}}",
        PREFETCH_RESPONSE: "QuestionnaireResponse?subject={{context.patientId}}"
                           f"&questionnaire={','.join(questionnaire_urls(questionnaire))}&_sort=-authored&_count=1",
    }


def fill_template(template: str, request: HookRequest) -> str:
    """A prefetch template with its token replaced: the relative FHIR URL the client would have used."""
    return template.replace("{{context.patientId}}", quote(request.context.patientId, safe=""))


class FhirFetcher:
    """GETs one relative FHIR URL from the request's fhirServer with its bearer token, with a timeout.
    Only used when a prefetch is absent and the client gave both fhirServer and fhirAuthorization."""

    def __init__(self, timeout: float, transport: Any = None):
        self.timeout = timeout
        self.transport = transport

    def get(self, request: HookRequest, relative: str) -> Any:
        import httpx

        auth = request.fhirAuthorization
        url = f"{request.fhirServer.rstrip('/')}/{relative}"
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport, follow_redirects=False) as http:
                response = http.get(url, headers={"Authorization": f"Bearer {auth.access_token}",
                                                  "Accept": "application/fhir+json"})
        except httpx.TimeoutException:
            raise PreconditionFailed(f"the EHR's FHIR server did not answer within {self.timeout:g} s") from None
        except httpx.HTTPError as error:
            raise PreconditionFailed(f"the EHR's FHIR server could not be reached ({type(error).__name__})") from None
        if response.status_code != 200:
            raise PreconditionFailed(f"the EHR's FHIR server answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise PreconditionFailed("the EHR's FHIR server did not answer with JSON") from None


def _failed_prefetch(value: Any) -> bool:
    """Absent, null, or an OperationOutcome standing in for data the client could not get."""
    return value is None or (isinstance(value, dict) and value.get("resourceType") == "OperationOutcome")


def _latest_response(value: Any) -> dict[str, Any] | None:
    """The QuestionnaireResponse of a prefetch value: the resource itself, or the newest in a searchset
    Bundle (None when the search found none)."""
    if not isinstance(value, dict):
        raise BadRequest(f"prefetch.{PREFETCH_RESPONSE} must be a FHIR resource or Bundle")
    kind = value.get("resourceType")
    if kind == "QuestionnaireResponse":
        return value
    if kind != "Bundle":
        raise BadRequest(f"prefetch.{PREFETCH_RESPONSE} must be a QuestionnaireResponse or a searchset Bundle")
    entries = value.get("entry") or []
    if not isinstance(entries, list):
        raise BadRequest(f"prefetch.{PREFETCH_RESPONSE}.entry must be a list")
    found = [entry["resource"] for entry in entries
             if isinstance(entry, dict) and isinstance(entry.get("resource"), dict)
             and entry["resource"].get("resourceType") == "QuestionnaireResponse"]
    if not found:
        return None
    # The template sorts newest first; a client that ignored it still gets the newest here (the first
    # of equals, so the order the server gave breaks ties).
    return max(reversed(found), key=lambda resource: _authored(resource.get("authored")))


def _authored(value: Any) -> datetime:
    if isinstance(value, str):
        text = value + {4: "-01-01", 7: "-01"}.get(len(value), "")  # a year or a month: its first day
        try:
            moment = datetime.fromisoformat(text)
            return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    return datetime.min.replace(tzinfo=timezone.utc)


def _subject_matches(resource: dict[str, Any], patient_id: str) -> bool:
    """False only when the resource's subject reference names another patient than the chart's. No
    subject, or a subject given only by identifier (the clinic's own patient reference, which
    `triage export` writes), cannot be compared with the EHR's id: the EHR's search chose it."""
    subject = resource.get("subject")
    if subject is None:
        return True
    if not isinstance(subject, dict):
        return False
    reference = subject.get("reference")
    if reference is None:
        return True
    if not isinstance(reference, str):
        return False
    return reference == f"Patient/{patient_id}" or reference.endswith(f"/Patient/{patient_id}")


_OUR_EXPORT_ID = re.compile(r"intake-(\d+)-v\d+")


def intake_id_of(resource: dict[str, Any], identifier_system: str) -> int | None:
    """Our intake id, when the response says it came from this tool: an identifier in our system, or
    the resource id `triage export --format fhir` gives (intake-N-vV)."""
    identifiers = resource.get("identifier")
    identifiers = [identifiers] if isinstance(identifiers, dict) else identifiers or []
    for identifier in identifiers if isinstance(identifiers, list) else []:
        if isinstance(identifier, dict) and identifier.get("system") == identifier_system:
            value = identifier.get("value")
            if isinstance(value, str) and value.isdigit():
                return int(value)
    match = _OUR_EXPORT_ID.fullmatch(str(resource.get("id", "")))
    return int(match.group(1)) if match else None


# --- cards --------------------------------------------------------------------------------------

# Characters that start markup inline (each line of the detail begins with our own text, so block
# markers such as "-" or "1." cannot start a line from a value); "://" and "www." would autolink.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&!])")
_WWW = re.compile(r"(www)\.", re.IGNORECASE)


def md(text: Any) -> str:
    """Text as literal GitHub-flavoured Markdown: no link, image, HTML or emphasis can be injected
    (the EHR renders `detail`; a patient's free text must never become a link or markup there)."""
    flat = " ".join(str(text).split())
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", flat)
    return _WWW.sub(r"\1\\.", escaped.replace("://", "\\://"))


def indicator(status: str, urgency: str) -> str:
    if status == "urgent":
        return URGENT_INDICATOR.get(urgency, "critical")
    return STATUS_INDICATOR.get(status, "warning")


def summary(status: str, urgency: str) -> str:
    text = (f"Spine pre-consultation: {STATUS_WORDS.get(status, status)}; "
            f"physician consult: {URGENCY_WORDS.get(urgency, urgency)}")
    if len(text) >= SUMMARY_LIMIT:  # cannot happen with the words above; a test checks every pair
        text = text[:SUMMARY_LIMIT - 2] + "…"
    return text


def _source(result: Result, config: CdsHooksConfig) -> dict[str, str]:
    return {"label": f"{result.ruleset.name} {result.ruleset.version}", "url": config.catalogue_url}


def card_detail(result: Result, questionnaire: Questionnaire, *, response_status: str | None = None) -> str:
    """The card's Markdown detail: consult, red flags, missing items, the four steps with reasons,
    topics, and the rules behind them."""
    consult = result.physician_consult
    labels = {item.id: item.label for item in questionnaire.items}
    lines = [f"**Physician consult: {md(URGENCY_WORDS.get(consult.urgency, consult.urgency))}.** {md(consult.message)}", ""]
    if result.status.value == "too_early":  # the other statuses are explained by their own lists below
        lines += [f"**Too early to evaluate.** {md(entry.reason)} (`{entry.rule}`)" for entry in result.trace
                  if entry.concluded.get("status") == "too_early"] + [""]
    if response_status and response_status != "completed":
        lines += [f"Questionnaire status: **{md(response_status)}** (not finished; unanswered questions are "
                  "reported as missing, never as no).", ""]
    if result.red_flags:
        lines += ["**Red flags answered yes**", ""]
        lines += [f"- {md(labels.get(flag, flag))}" for flag in result.red_flags]
        lines.append("")
    lines += ["**Missing before evaluation**", ""]
    lines += [f"- {md(item.label)}: {md(item.reason)}" for item in result.missing_items] or ["- nothing"]
    lines += ["", "**Records on file**", ""] + (_records_on_file(result) or ["- none"])
    lines += ["", "**Steps**", ""]
    for step in result.steps:
        status = STEP_STATUS_WORDS.get(step.status.value, step.status.value)
        lines.append(f"{step.step}. {md(step.title)}: **{md(status)}**. {md(' '.join(step.reasons))}")
    lines += ["", "**Topics the physician may want to discuss**", ""]
    lines += [f"- {md(point.text)}" for point in result.discussion_points] or ["- none"]
    rules = ", ".join(f"`{entry.rule}` v{entry.version}" for entry in result.trace)
    lines += ["", f"Rules: {rules}.", "",
              f"Assessed as of {md(result.assessment_date)} by ruleset {md(result.ruleset.name)} "
              f"{md(result.ruleset.version)}. {md(result.disclaimer)}"]
    return "\n".join(lines)


def _records_on_file(result: Result) -> list[str]:
    """The record items (triage.records) the rules no longer list as missing: on file."""
    from triage.records import load_record_items

    missing = {item.id for item in result.missing_items}
    return [f"- {md(item.title[:1].upper() + item.title[1:])}" for item_id, item in load_record_items().items.items()
            if item_id not in missing]


def card_for_result(result: Result, questionnaire: Questionnaire, config: CdsHooksConfig, *,
                    intake_id: int | None = None, response_status: str | None = None) -> dict[str, Any]:
    status, urgency = result.status.value, result.physician_consult.urgency
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": summary(status, urgency),
        "indicator": indicator(status, urgency),
        "detail": card_detail(result, questionnaire, response_status=response_status),
        "source": _source(result, config),
    }
    if intake_id is not None and config.staff_summary_url:
        card["links"] = [{"label": "Open the pre-consultation summary",
                          "url": config.staff_summary_url.replace("{intake_id}", str(intake_id)),
                          "type": "absolute"}]
    return card


def card_no_response(config: CdsHooksConfig, ruleset_label: str) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "summary": "Spine pre-consultation: no questionnaire on file for this patient",
        "indicator": "info",
        "detail": "No pre-consultation questionnaire response of this clinic's questionnaire was found for "
                  "this patient, so nothing has been triaged. A physician consult is always recommended.",
        "source": {"label": ruleset_label, "url": config.catalogue_url},
    }


def card_unreadable(error: InvalidInput, config: CdsHooksConfig, ruleset_label: str) -> dict[str, Any]:
    """The response on file cannot be triaged: say so (a warning), never stay silent."""
    problems = "\n".join(f"- `{md(problem.where)}`: {md(problem.message)}" for problem in error.problems[:20])
    return {
        "uuid": str(uuid.uuid4()),
        "summary": "Spine pre-consultation: the questionnaire on file could not be triaged; review it directly",
        "indicator": "warning",
        "detail": "The latest pre-consultation questionnaire response could not be read, so no triage "
                  f"result is shown. Problems found:\n\n{problems}\n\nA physician consult is always recommended.",
        "source": {"label": ruleset_label, "url": config.catalogue_url},
    }


# --- the service --------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What one call produced, for the access log: nothing that identifies the patient."""

    cards: list[dict[str, Any]]
    outcome: str  # triaged / no_response / unreadable


class CdsHooksService:
    """Discovery and the `patient-view` service, independent of any web framework."""

    def __init__(self, config: CdsHooksConfig, settings: Settings | None = None, *,
                 clock: Callable[[], float] = time.time, today: Callable[[], date] = date.today,
                 transport: Any = None, replays: ReplayCache | StoreReplays | None = None):
        from triage.questionnaire import load_questionnaire
        from triage.ruleset import load_ruleset
        from triage.settings import load_settings

        self.config = config
        self.settings = settings or load_settings()
        self.questionnaire = load_questionnaire()
        self.ruleset = load_ruleset()
        self.today = today
        self.trust = ClientTrust(config, clock=clock, transport=transport, replays=replays)
        self.fetcher = FhirFetcher(config.fhir_timeout_seconds, transport=transport)

    @property
    def ruleset_label(self) -> str:
        info = self.ruleset.ruleset
        return f"{info.name} {info.version}"

    def discovery(self, authorization: str | None) -> dict[str, Any]:
        self.trust.verify(authorization, self.config.discovery_url)
        return discovery_document(self.questionnaire)

    def authorize(self, service_id: str, authorization: str | None) -> dict[str, Any]:
        """The verified claims of a call to ``service_id`` (Unauthorized, UnknownService): checked
        before the request body is read, so an unsigned caller costs no parsing."""
        if service_id != SERVICE_ID:
            raise UnknownService(f"no CDS service {service_id!r}")
        return self.trust.verify(authorization, self.config.service_url(service_id))

    def call(self, service_id: str, authorization: str | None, body: Any) -> Outcome:
        return self.answer(self.authorize(service_id, authorization), body)

    def answer(self, claims: dict[str, Any], body: Any) -> Outcome:
        """The cards for a call whose token ``authorize`` verified."""
        request = parse_request(body)
        response = self._response(request, self.config.client(claims["iss"]))
        if response is None:
            cards = [card_no_response(self.config, self.ruleset_label)] if self.config.card_when_no_response else []
            return Outcome(cards, "no_response")
        try:
            result = self._triage(response)
        except InvalidInput as error:
            return Outcome([card_unreadable(error, self.config, self.ruleset_label)], "unreadable")
        except EngineError:
            raise TriageFailed("the rules engine could not produce a result faithfully; no card is given") from None
        card = card_for_result(result, self.questionnaire, self.config,
                               intake_id=intake_id_of(response, self.config.intake_identifier_system),
                               response_status=response.get("status"))
        return Outcome([card], "triaged")

    def _response(self, request: HookRequest, client: TrustedClient) -> dict[str, Any] | None:
        prefetch = request.prefetch or {}
        patient = prefetch.get(PREFETCH_PATIENT)
        if isinstance(patient, dict) and patient.get("resourceType") == "Patient" \
                and patient.get("id") not in (None, request.context.patientId):
            raise BadRequest(f"prefetch.{PREFETCH_PATIENT} is not the patient of context.patientId")
        value = prefetch.get(PREFETCH_RESPONSE)
        if _failed_prefetch(value):
            if not (request.fhirServer and request.fhirAuthorization):
                raise PreconditionFailed(f"prefetch {PREFETCH_RESPONSE} is missing and no fhirServer with "
                                         "fhirAuthorization was given to fetch it")
            if request.fhirServer.rstrip("/") not in client.fhir_servers:
                raise PreconditionFailed(f"prefetch {PREFETCH_RESPONSE} is missing and fhirServer is not one "
                                         "configured for this client (fhir_servers), so it is not fetched")
            template = prefetch_templates(self.questionnaire)[PREFETCH_RESPONSE]
            value = self.fetcher.get(request, fill_template(template, request))
            if _failed_prefetch(value):
                raise PreconditionFailed(f"the EHR's FHIR server did not return the {PREFETCH_RESPONSE} search")
        response = _latest_response(value)
        if response is not None and not _subject_matches(response, request.context.patientId):
            raise BadRequest(f"the {PREFETCH_RESPONSE} is not about the patient of context.patientId")
        return response

    def _triage(self, response: dict[str, Any]) -> Result:
        """Exactly `triage assess` on a QuestionnaireResponse file."""
        from triage import fhir
        from triage.answers import parse_answers
        from triage.assess import assess

        raw = fhir.answers_from_response(response, self.questionnaire)
        answers = parse_answers(raw, today=self.today())
        return assess(answers, self.ruleset, self.settings)


def discovery_document(questionnaire: Questionnaire) -> dict[str, Any]:
    return {
        "services": [{
            "hook": HOOK,
            "id": SERVICE_ID,
            "title": "Spine pre-consultation summary (after lumbar fusion)",
            "description": "When a patient's chart opens, triages the patient's latest pre-consultation "
                           "questionnaire response (pain after a lumbar fusion) and returns one card: red "
                           "flags and their urgency, records still missing, the four decision steps with "
                           "reasons, and topics the physician may want to discuss. Decision support only, "
                           "with no suggestions or orders; a physician consult is always recommended.",
            "prefetch": prefetch_templates(questionnaire),
            "usageRequirements": "The EHR signs every call with a JWT whose issuer and JWKS are configured "
                                 "with the service. Without the questionnaireResponse prefetch, the call "
                                 "needs fhirServer and fhirAuthorization.",
        }]
    }
