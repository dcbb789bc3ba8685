"""What the CDS Hooks 2.0.1 specification fixes for our one service: its hook, id and prefetch keys,
the request an EHR sends (checked strictly, field by field), and the errors with their HTTP status.

Every error message names a field and the rule broken, never a value sent: nothing here carries
patient data.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SPEC_VERSION = "2.0.1"
HOOK = "patient-view"
SERVICE_ID = "fbss-preconsultation-summary"
PREFETCH_PATIENT = "patient"
PREFETCH_RESPONSE = "questionnaireResponse"
MAX_BODY_BYTES = 1024 * 1024


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


def _is_local(url: str) -> bool:
    return urlsplit(url).hostname in ("localhost", "127.0.0.1", "::1")


def https_url(value: str, field: str) -> str:
    """A URL that the configuration or a request names (``field``): absolute and https (plain http
    only for localhost), without a trailing slash."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"{field} must be an absolute https URL")
    if parts.scheme == "http" and not _is_local(value):
        raise ValueError(f"{field} must use https (plain http only for localhost)")
    return value.rstrip("/")


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
            https_url(self.fhirServer, "fhirServer")
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
