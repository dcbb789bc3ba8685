"""Test support for CDS Hooks: a fake EHR with its own keys, the card and discovery schemas of the
CDS Hooks 2.0.1 specification as pydantic models (extra="forbid"), requests shaped like the
specification's examples, and the fixtures the tests/test_cds_hooks_*.py modules share (an app with
the CDS Hooks routes trusting the fake EHR, whose FHIR server is an httpx MockTransport: no network).
A test module imports the fixtures it uses by name (``client``, ``ehr``, ``make_client``)."""

from __future__ import annotations

import copy
import json
import time
import uuid
from datetime import date
from typing import Any, Literal

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask
from pydantic import BaseModel, ConfigDict, Field

from support import ROOT
from triage.interop import cds_hooks
from triage.core.answers import RED_FLAGS
from triage.interop.cds_hooks import CdsHooksConfig
from triage.core.questionnaire import load_questionnaire
from triage.channels.web.cds_hooks import init_app

ISSUER = "https://ehr.example.org/"
BASE_URL = "https://triage.clinic.example"
SERVICE_URL = f"{BASE_URL}/cds-services/fbss-preconsultation-summary"
DISCOVERY_URL = f"{BASE_URL}/cds-services"
FHIR_SERVER = "https://ehr.example.org/fhir"
PATIENT_ID = "1288992"  # the specification's example patient
AS_OF = "2026-11-24"


# --- the specification's JSON shapes ------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Coding(_Strict):
    code: str = Field(min_length=1)
    system: str = Field(min_length=1)
    display: str | None = None


class Source(_Strict):
    label: str = Field(min_length=1)
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Link(_Strict):
    label: str = Field(min_length=1)
    url: str = Field(min_length=1)
    type: Literal["absolute", "smart"]
    appContext: str | None = None
    autolaunchable: bool | None = None


class Action(_Strict):
    type: Literal["create", "update", "delete"]
    description: str | None = None
    resource: dict[str, Any] | None = None
    resourceId: str | None = None


class Suggestion(_Strict):
    label: str
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: list[Action] | None = None


class Card(_Strict):
    uuid: str | None = None
    summary: str = Field(min_length=1, max_length=139)  # "<140-character summary"
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[Coding] | None = None
    links: list[Link] | None = None


class CdsResponse(_Strict):
    cards: list[Card]
    systemActions: list[Action] | None = None


class Service(_Strict):
    hook: str = Field(min_length=1)
    title: str | None = None
    description: str = Field(min_length=1)
    id: str = Field(min_length=1)
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None


class Discovery(_Strict):
    services: list[Service]


def no_null_or_empty(value: Any, where: str = "") -> None:
    """The specification: JSON elements SHALL NOT be null or empty (an empty `cards` list aside)."""
    assert value is not None, f"{where} is null"
    if isinstance(value, (str, list, dict)) and not value:
        assert where == "cards", f"{where} is empty"
    if isinstance(value, dict):
        for key, item in value.items():
            no_null_or_empty(item, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            no_null_or_empty(item, f"{where}[{index}]")


def valid_response(document: Any) -> CdsResponse:
    no_null_or_empty(document)
    response = CdsResponse.model_validate(document)
    # Decision support only: never a suggestion, an action or an order.
    assert all(card.suggestions is None and card.selectionBehavior is None for card in response.cards)
    assert response.systemActions is None
    return response


# --- a fake EHR: its own keys, signing its calls -------------------------------------------------

class FakeEhr:
    def __init__(self, algorithm: str = "ES384", kid: str = "ehr-key-1", issuer: str = ISSUER):
        self.algorithm, self.kid, self.issuer = algorithm, kid, issuer
        if algorithm.startswith("ES"):
            curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[algorithm]
            self.private_key = ec.generate_private_key(curve)
        else:
            self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        public = algorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk()]}

    def claims(self, audience: str, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": audience, "exp": now + 60, "iat": now, "jti": str(uuid.uuid4()),
                  "tenant": "2ddd6c3a-8e9a-44c6-a305-52111ad302a2"}
        claims.update(changes)
        return {key: value for key, value in claims.items() if value is not None}

    def token(self, audience: str = SERVICE_URL, *, headers: dict[str, Any] | None = None, **changes: Any) -> str:
        return jwt.encode(self.claims(audience, **changes), self.private_key, algorithm=self.algorithm,
                          headers={"kid": self.kid, "typ": "JWT", **(headers or {})})

    def authorization(self, audience: str = SERVICE_URL, **changes: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(audience, **changes)}"}


# --- answers and requests ----------------------------------------------------------------------

def ready_answers() -> dict[str, Any]:
    """Everything known, nothing missing, every red-flag question answered no."""
    answers = {
        "assessment_date": AS_OF,
        "fusion_date": "2024-03",
        "fused_levels": ["L4-L5", "L5-S1"],
        "surgical_report_available": "yes",
        "mri_available": "yes",
        "mri_date": "2026-08-14",
        "annular_tear_levels": ["L3-L4"],
        "pain_location": "back_and_leg",
        "pain_quality": ["aching", "shooting"],
        "pain_pattern_since_surgery": "improved_then_returned",
        "pain_score": 7,
        "hardware_problem_known": "no",
        "mechanical_symptoms": "no",
        "veteran": "no",
    }
    answers.update({question: "no" for question in RED_FLAGS})
    return answers


def answers_for(status: str) -> dict[str, Any]:
    answers = ready_answers()
    if status == "records_needed":
        answers["surgical_report_available"] = "no"
    elif status == "too_early":
        answers["fusion_date"] = "2026-09"
    elif status == "urgent":
        answers["red_flag_bladder_bowel"] = "yes"
    return answers


def response_resource(answers: dict[str, Any], **options: Any) -> dict[str, Any]:
    from triage.interop import fhir
    from triage.core.questionnaire import load_questionnaire

    resource = fhir.response_resource(load_questionnaire(), answers, authored="2026-11-20T09:30:00Z", **options)
    resource["subject"] = {"reference": f"Patient/{PATIENT_ID}"}
    return resource


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"fullUrl": f"{FHIR_SERVER}/QuestionnaireResponse/{index}", "resource": resource,
                       "search": {"mode": "match"}} for index, resource in enumerate(resources, 1)]}


# The request example of the specification ("Calling a CDS Service"), with our prefetch keys.
SPEC_REQUEST = {
    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "fhirServer": FHIR_SERVER,
    "hook": "patient-view",
    "fhirAuthorization": {
        "access_token": "some-opaque-fhir-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/Patient.read user/QuestionnaireResponse.read",
        "subject": "cds-service4",
    },
    "context": {"userId": "Practitioner/example", "patientId": PATIENT_ID, "encounterId": "89284"},
    "prefetch": {
        "patient": {"resourceType": "Patient", "gender": "male", "birthDate": "1925-12-23", "id": PATIENT_ID,
                    "active": True},
    },
}


def hook_request(questionnaire_response: Any = None, *, without: tuple[str, ...] = (), **changes: Any) -> dict[str, Any]:
    """The specification's request with this prefetched questionnaireResponse (a resource or Bundle);
    ``without`` drops top-level fields, ``changes`` replaces them."""
    request = copy.deepcopy(SPEC_REQUEST)
    if questionnaire_response is not None:
        request["prefetch"]["questionnaireResponse"] = questionnaire_response
    for field in without:
        request.pop(field, None)
    request.update(changes)
    return request


# --- shared by the tests/test_cds_hooks_*.py modules ----------------------------------------------

# Every canonical URL a response of ours may name (the full questionnaire, and the patient form where
# there is one), as one comma-separated search value.
QUESTIONNAIRES = ",".join(cds_hooks.questionnaire_urls(load_questionnaire()))
STATUSES = ("urgent", "too_early", "records_needed", "ready_for_evaluation")
URGENCIES = ("emergency", "same_day", "soon", "routine")


class FakeFhirServer:
    """The EHR's FHIR server: answers the QuestionnaireResponse search, remembers what was asked."""

    def __init__(self, bundle=None, *, status=200, fail=None, jwks=None):
        self.bundle, self.status, self.fail, self.jwks = bundle, status, fail, jwks
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.jwks is not None and request.url.path == "/jwks.json":
            return httpx.Response(200, json=self.jwks)
        if self.fail:
            raise self.fail
        return httpx.Response(self.status, json=self.bundle if self.bundle is not None else {})


@pytest.fixture
def ehr():
    return FakeEhr("ES384")


@pytest.fixture
def make_client(tmp_path, ehr):
    """A test client of an app with the CDS Hooks routes, trusting ``ehr`` (its JWKS in a file)."""
    def make(*, fhir: FakeFhirServer | None = None, clock=time.time, **config):
        jwks_file = tmp_path / "ehr-jwks.json"
        jwks_file.write_text(json.dumps(ehr.jwks()), encoding="utf-8")
        config.setdefault("clients", [{"issuer": ISSUER, "jwks": str(jwks_file), "fhir_servers": [FHIR_SERVER]}])
        app = Flask("test")
        init_app(app, CdsHooksConfig(base_url=BASE_URL, **config), today=lambda: date(2026, 11, 24), clock=clock,
                 transport=httpx.MockTransport(fhir or FakeFhirServer()))
        return app.test_client()
    return make


@pytest.fixture
def client(make_client):
    return make_client()


def call(client, ehr, body, **claims):
    return client.post("/cds-services/fbss-preconsultation-summary", json=body,
                       headers=ehr.authorization(SERVICE_URL, **claims))


def card_of(response):
    assert response.status_code == 200, response.get_json()
    cards = valid_response(response.get_json()).cards
    assert len(cards) == 1
    return cards[0]


def load_tool(name: str):
    """A script of tools/ as a module (tools/ is no package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
