"""The FHIR data a call needs: the patient's latest QuestionnaireResponse of our questionnaire, as the
EHR prefetched it, or fetched here from the EHR's FHIR server (only a server configured for that
client, only when the prefetch is missing, with a timeout). httpx is imported only when fetching.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from triage.interop.cds_hooks.config import TrustedClient
from triage.interop.cds_hooks.protocol import PREFETCH_PATIENT, PREFETCH_RESPONSE, BadRequest, HookRequest, PreconditionFailed

if TYPE_CHECKING:  # annotations only
    from triage.core.questionnaire import Questionnaire


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


def _newest_response(value: Any) -> dict[str, Any] | None:
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


def latest_response(request: HookRequest, client: TrustedClient, questionnaire: Questionnaire,
                    fetcher: FhirFetcher) -> dict[str, Any] | None:
    """The QuestionnaireResponse to triage (None when the patient has none on file): prefetched, or
    fetched from the client's configured FHIR server; refused when it is about another patient."""
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
        template = prefetch_templates(questionnaire)[PREFETCH_RESPONSE]
        value = fetcher.get(request, fill_template(template, request))
        if _failed_prefetch(value):
            raise PreconditionFailed(f"the EHR's FHIR server did not return the {PREFETCH_RESPONSE} search")
    response = _newest_response(value)
    if response is not None and not _subject_matches(response, request.context.patientId):
        raise BadRequest(f"the {PREFETCH_RESPONSE} is not about the patient of context.patientId")
    return response
