"""A fake EHR for trying the CDS Hooks service by hand (a CDS client with its own keys).

    python tools/fake_ehr.py setup DIR [--base-url http://127.0.0.1:8765]
        makes an EC P-384 key pair (DIR/ehr-private.pem, mode 0600), its public JWKS
        (DIR/ehr-jwks.json) and the service's settings (DIR/cds-hooks.toml) trusting it
    TRIAGE_CDS_HOOKS=DIR/cds-hooks.toml triage serve --port 8765
    python tools/fake_ehr.py call DIR [--status urgent|too_early|records_needed|ready_for_evaluation|none]
                                      [--forge unsigned|other-key|expired|wrong-audience|replay]
        signs a patient-view call (ES384) with a prefetched QuestionnaireResponse that gives that
        status, POSTs it, and prints the HTTP status and the JSON answer (a forged call gets 401)

`discovery DIR` calls GET /cds-services. Everything stays on this machine: the EHR's data is made up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ISSUER = "https://fake-ehr.example/"
KID = "fake-ehr-1"
SERVICE = "fbss-preconsultation-summary"
PATIENT_ID = "example-patient-1"


def setup(folder: Path, base_url: str) -> Path:
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP384R1())
    private = folder / "ehr-private.pem"
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    public = jwt.get_algorithm_by_name("ES384").to_jwk(key.public_key(), as_dict=True)
    (folder / "ehr-jwks.json").write_text(json.dumps({"keys": [{**public, "kid": KID, "use": "sig", "alg": "ES384"}]},
                                                     indent=2) + "\n", encoding="utf-8")
    config = folder / "cds-hooks.toml"
    config.write_text(f'[cds_hooks]\nbase_url = "{base_url.rstrip("/")}"\ncard_when_no_response = true\n\n'
                      f'[[cds_hooks.clients]]\nissuer = "{ISSUER}"\njwks = "ehr-jwks.json"\n', encoding="utf-8")
    return config


def _base_url(folder: Path) -> str:
    import tomllib

    return tomllib.loads((folder / "cds-hooks.toml").read_text(encoding="utf-8"))["cds_hooks"]["base_url"]


def token(folder: Path, audience: str, *, forge: str | None = None) -> str:
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_private_key((folder / "ehr-private.pem").read_bytes(), password=None)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": audience, "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
    if forge == "expired":
        claims.update(iat=now - 600, exp=now - 300)
    if forge == "wrong-audience":
        claims["aud"] = "https://somewhere-else.example/cds-services/" + SERVICE
    if forge == "other-key":
        key = ec.generate_private_key(ec.SECP384R1())
    if forge == "unsigned":
        return jwt.encode(claims, None, algorithm="none", headers={"kid": KID})
    return jwt.encode(claims, key, algorithm="ES384", headers={"kid": KID, "typ": "JWT"})


ANSWERS = {
    "assessment_date": None, "fusion_date": "2024-03", "fused_levels": ["L4-L5", "L5-S1"],
    "surgical_report_available": "yes", "mri_available": "yes", "mri_date": None,
    "annular_tear_levels": ["L3-L4"], "pain_location": "back_and_leg", "pain_quality": ["aching", "shooting"],
    "pain_pattern_since_surgery": "improved_then_returned", "pain_score": 7,
    "hardware_problem_known": "no", "mechanical_symptoms": "no", "veteran": "no",
}


def answers_for(status: str) -> dict[str, Any]:
    from datetime import date

    from triage.core.answers import RED_FLAGS
    from triage.core.dates import add_months

    today = date.today()
    answers = dict(ANSWERS, assessment_date=str(today), mri_date=str(add_months(today, -2)),
                   **{question: "no" for question in RED_FLAGS})
    if status == "urgent":
        answers["red_flag_bladder_bowel"] = "yes"
    elif status == "too_early":
        answers["fusion_date"] = str(add_months(today, -2))
        answers["mri_date"] = str(today)
    elif status == "records_needed":
        answers["surgical_report_available"] = "no"
    return answers


def hook_request(status: str) -> dict[str, Any]:
    from triage.interop import fhir
    from triage.core.questionnaire import load_questionnaire

    found = []
    if status != "none":
        resource = fhir.response_resource(load_questionnaire(), answers_for(status), authored=time.strftime("%Y-%m-%d"))
        resource["subject"] = {"reference": f"Patient/{PATIENT_ID}"}
        found = [{"resource": resource}]
    return {
        "hook": "patient-view", "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/example", "patientId": PATIENT_ID},
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": PATIENT_ID},
            "questionnaireResponse": {"resourceType": "Bundle", "type": "searchset", "entry": found},
        },
    }


def call(folder: Path, status: str, forge: str | None = None) -> list[tuple[int, Any]]:
    """POST one call (twice with the same token for `replay`); (HTTP status, JSON) of each."""
    import httpx

    url = f"{_base_url(folder)}/cds-services/{SERVICE}"
    bearer = token(folder, url, forge=forge)
    answers = []
    for _ in range(2 if forge == "replay" else 1):
        response = httpx.post(url, json=hook_request(status), headers={"Authorization": f"Bearer {bearer}"},
                              timeout=30)
        answers.append((response.status_code, response.json()))
    return answers


def discovery(folder: Path) -> tuple[int, Any]:
    import httpx

    url = f"{_base_url(folder)}/cds-services"
    response = httpx.get(url, headers={"Authorization": f"Bearer {token(folder, url)}"}, timeout=30)
    return response.status_code, response.json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("setup")
    make.add_argument("folder", type=Path)
    make.add_argument("--base-url", default="http://127.0.0.1:8765")
    send = commands.add_parser("call")
    send.add_argument("folder", type=Path)
    send.add_argument("--status", default="urgent",
                      choices=("urgent", "too_early", "records_needed", "ready_for_evaluation", "none"))
    send.add_argument("--forge", choices=("unsigned", "other-key", "expired", "wrong-audience", "replay"))
    look = commands.add_parser("discovery")
    look.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    if args.command == "setup":
        config = setup(args.folder, args.base_url)
        print(f"wrote {config}; now run: TRIAGE_CDS_HOOKS={config} triage serve")
        return 0
    answers = [discovery(args.folder)] if args.command == "discovery" else call(args.folder, args.status, args.forge)
    for status, document in answers:
        print(f"HTTP {status}")
        print(json.dumps(document, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
