"""The `[cds_hooks]` configuration: which EHRs may call (their JWT issuer, JWKS and FHIR servers), our
own public URL (the JWT audience is built from it, never from a request), what the card links to, and
the time limits of trust and fetching."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from triage.interop.cds_hooks.protocol import SERVICE_ID, https_url
from triage.core.errors import DefinitionError


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
        return tuple(https_url(url, "fhir_servers") for url in value)

    @property
    def jwks_url(self) -> str | None:
        return self.jwks if self.jwks.startswith(("https://", "http://")) else None

    @field_validator("jwks")
    @classmethod
    def _jwks_location(cls, value: str) -> str:
        if value.startswith(("https://", "http://")):
            return https_url(value, "jwks")
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
        return https_url(value, "base_url")

    @field_validator("rule_catalogue_url")
    @classmethod
    def _catalogue(cls, value: str | None) -> str | None:
        return None if value is None else https_url(value, "rule_catalogue_url")

    @field_validator("staff_summary_url")
    @classmethod
    def _staff(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "{intake_id}" not in value:
            raise ValueError("staff_summary_url must contain {intake_id}")
        https_url(value.replace("{intake_id}", "1"), "staff_summary_url")
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
