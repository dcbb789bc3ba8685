"""CDS Hooks: trusting the EHR (triage/interop/cds_hooks/trust.py). Every call carries a JWT signed by a
configured issuer, shaped like the header and payload of the specification's "Trusting CDS Clients";
each forgery is refused for its own reason, replays are refused, keys rotate, and keys that cannot be
read are 503, never a pass.
"""

from __future__ import annotations

import io
import json
import logging
import time

import httpx
import jwt
import pytest

from support.cds_hooks_support import (
    DISCOVERY_URL, ISSUER, SERVICE_URL, FakeEhr, FakeFhirServer, answers_for, call, hook_request,
    response_resource, searchset,
)
from support.cds_hooks_support import client, ehr, make_client  # noqa: F401 (fixtures)
from triage.interop import cds_hooks


@pytest.mark.parametrize("algorithm", ["ES384", "RS384", "ES256", "RS256"])
def test_a_correctly_signed_call_is_accepted(make_client, algorithm):
    ehr = FakeEhr(algorithm)
    client = _client_trusting(make_client, ehr)
    assert call(client, ehr, hook_request(searchset())).status_code == 200


def _client_trusting(make_client, ehr, **config):
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp())
    (folder / "jwks.json").write_text(json.dumps(ehr.jwks()), encoding="utf-8")
    return make_client(clients=[{"issuer": ehr.issuer, "jwks": str(folder / "jwks.json")}], **config)


def _forged_tokens(ehr: FakeEhr):
    """Each (name, Authorization header value) a forger or a broken client might send."""
    body_claims = ehr.claims(SERVICE_URL)
    other = FakeEhr("ES384", kid=ehr.kid)  # another key pretending to be the EHR's
    public_pem = ehr.private_key.public_key().public_bytes(
        encoding=__import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.PEM,
        format=__import__("cryptography.hazmat.primitives.serialization", fromlist=["PublicFormat"]).PublicFormat.SubjectPublicKeyInfo)
    unsigned = jwt.encode(body_claims, None, algorithm="none", headers={"kid": ehr.kid})
    yield "no header", None
    yield "not bearer", f"Basic {ehr.token()}"
    yield "not a jwt", "Bearer not-a-jwt"
    yield "unsigned (alg none)", f"Bearer {unsigned}"
    yield "stripped signature", "Bearer " + ehr.token().rsplit(".", 1)[0] + "."
    yield "HS256 with the public key as secret", "Bearer " + _hs256(body_claims, public_pem, ehr.kid)
    yield "signed by another key", f"Bearer {other.token()}"
    yield "unknown kid", "Bearer " + jwt.encode(body_claims, ehr.private_key, algorithm="ES384",
                                                headers={"kid": "nobody"})
    yield "no kid", "Bearer " + jwt.encode(body_claims, ehr.private_key, algorithm="ES384")
    yield "untrusted issuer", f"Bearer {FakeEhr('ES384', issuer='https://evil.example/').token()}"
    yield "issuer changed", f"Bearer {ehr.token(iss='https://evil.example/')}"
    yield "audience of discovery", f"Bearer {ehr.token(DISCOVERY_URL)}"
    yield "audience of another host", "Bearer " + ehr.token("https://evil.example/cds-services/fbss-preconsultation-summary")
    yield "no audience", f"Bearer {ehr.token(None)}"
    yield "expired", f"Bearer {ehr.token(exp=int(time.time()) - 120, iat=int(time.time()) - 180)}"
    yield "issued in the future", f"Bearer {ehr.token(iat=int(time.time()) + 600, exp=int(time.time()) + 660)}"
    yield "valid for a day", f"Bearer {ehr.token(exp=int(time.time()) + 86400)}"
    yield "not valid yet (nbf)", f"Bearer {ehr.token(nbf=int(time.time()) + 120)}"
    yield "no exp", f"Bearer {ehr.token(exp=None)}"
    yield "no jti", f"Bearer {ehr.token(jti=None)}"
    yield "jku elsewhere", "Bearer " + jwt.encode(body_claims, ehr.private_key, algorithm="ES384",
                                                  headers={"kid": ehr.kid, "jku": "https://evil.example/jwks"})
    yield "typ not JWT", "Bearer " + jwt.encode(body_claims, ehr.private_key, algorithm="ES384",
                                                headers={"kid": ehr.kid, "typ": "at+jwt"})


def _hs256(claims, secret: bytes, kid: str) -> str:
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


# Why each is refused: the check that must catch it (so that a test passes for the right reason).
FORGERIES = {
    "no header": "a signed JWT is required",
    "not bearer": "a signed JWT is required",
    "not a jwt": "not a JWT",
    "unsigned (alg none)": "algorithm 'none' is not accepted",
    "stripped signature": "signature does not verify",
    "HS256 with the public key as secret": "algorithm 'HS256' is not accepted",
    "signed by another key": "signature does not verify",
    "unknown kid": "kid is not in the issuer's JWKS",
    "no kid": "has no kid",
    "untrusted issuer": "issuer is not a trusted CDS client",
    "issuer changed": "issuer is not a trusted CDS client",
    "audience of discovery": "audience is not this endpoint's URL",
    "audience of another host": "audience is not this endpoint's URL",
    "no audience": "has no aud claim",
    "expired": "has expired",
    "issued in the future": "issued in the future",
    "valid for a day": "valid for too long",
    "not valid yet (nbf)": "not valid yet",
    "no exp": "has no exp claim",
    "no jti": "has no jti claim",
    "jku elsewhere": "jku is not the JWKS configured",
    "typ not JWT": "typ must be JWT",
}


def test_every_forgery_is_listed_with_its_reason():
    assert [name for name, _ in _forged_tokens(FakeEhr("ES384"))] == list(FORGERIES)


@pytest.mark.parametrize("forgery", FORGERIES)
def test_forged_or_broken_tokens_get_401_saying_only_that_and_the_reason_is_logged(client, ehr, forgery, caplog):
    header = dict(_forged_tokens(ehr))[forgery]
    headers = {"Authorization": header} if header else {}
    with caplog.at_level(logging.INFO, logger="triage.cds_hooks"):
        response = client.post("/cds-services/fbss-preconsultation-summary",
                               json=hook_request(searchset(response_resource(answers_for("urgent")))), headers=headers)
    assert response.status_code == 401, forgery
    assert response.get_json() == {"error": "the request is not authorized"}  # the same for every reason
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert FORGERIES[forgery] in caplog.text


class Tripwire(io.BytesIO):
    """A request body that records whether anything read it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.reads = 0

    def read(self, *args):
        self.reads += 1
        return super().read(*args)


@pytest.mark.parametrize("forgery", ["no header", "signed by another key", "expired"])
def test_the_token_is_checked_before_the_body_is_read(client, ehr, forgery):
    header = dict(_forged_tokens(ehr))[forgery]
    headers = ({"Authorization": header} if header else {}) | {"Content-Type": "application/json"}
    for data in (b"{not json", b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'):
        body = Tripwire(data)
        response = client.post("/cds-services/fbss-preconsultation-summary", input_stream=body, headers=headers,
                               content_length=len(data))
        assert (response.status_code, body.reads) == (401, 0), forgery


def test_a_replayed_token_is_refused(client, ehr):
    token = ehr.token()
    body = hook_request(searchset())
    first = client.post("/cds-services/fbss-preconsultation-summary", json=body,
                        headers={"Authorization": f"Bearer {token}"})
    again = client.post("/cds-services/fbss-preconsultation-summary", json=body,
                        headers={"Authorization": f"Bearer {token}"})
    assert (first.status_code, again.status_code) == (200, 401)


def test_the_replay_cache_forgets_only_expired_tokens_and_refuses_when_full():
    cache = cds_hooks.ReplayCache(max_entries=2)
    cache.remember("iss", "a", expires=100, now=0)
    cache.remember("iss", "b", expires=200, now=0)
    with pytest.raises(cds_hooks.Unavailable):
        cache.remember("iss", "c", expires=300, now=50)  # full of live tokens: never forget one
    cache.remember("iss", "c", expires=300, now=150)  # "a" has expired and is dropped
    with pytest.raises(cds_hooks.Unauthorized):
        cache.remember("iss", "b", expires=200, now=160)
    per_issuer = cds_hooks.ReplayCache()
    per_issuer.remember("iss", "b", expires=200, now=0)
    per_issuer.remember("other-issuer", "b", expires=200, now=0)  # a jti is unique per issuer


def test_jwks_from_a_url_with_rotation(make_client):
    ehr = FakeEhr("ES384")
    jwks_url = "https://ehr.example.org/jwks.json"
    fhir = FakeFhirServer(jwks=ehr.jwks())
    offset = [0.0]
    client = make_client(fhir=fhir, clock=lambda: time.time() + offset[0],
                         clients=[{"issuer": ISSUER, "jwks": jwks_url}])
    assert call(client, ehr, hook_request(searchset())).status_code == 200
    token = jwt.encode(ehr.claims(SERVICE_URL), ehr.private_key, algorithm="ES384",
                       headers={"kid": ehr.kid, "jku": jwks_url})
    response = client.post("/cds-services/fbss-preconsultation-summary", json=hook_request(searchset()),
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200  # jku naming the configured URL is fine
    # The EHR rotates its key: the new kid is looked up again (not more than once per 10 s).
    rotated = FakeEhr("ES384", kid="ehr-key-2")
    fhir.jwks = {"keys": [ehr.jwk(), rotated.jwk()]}
    assert call(client, rotated, hook_request(searchset())).status_code == 401
    offset[0] = 11
    assert call(client, rotated, hook_request(searchset())).status_code == 200
    assert sum(request.url.path == "/jwks.json" for request in fhir.requests) == 2


def test_keys_already_read_stay_usable_while_the_jwks_url_is_down(make_client):
    ehr = FakeEhr("ES384")
    fhir = FakeFhirServer(jwks=ehr.jwks())
    offset = [0.0]
    client = make_client(fhir=fhir, clock=lambda: time.time() + offset[0], jwks_refresh_seconds=10,
                         clients=[{"issuer": ISSUER, "jwks": "https://ehr.example.org/jwks.json"}])
    assert call(client, ehr, hook_request(searchset())).status_code == 200
    fhir.jwks, fhir.fail = None, httpx.ConnectError("down")
    offset[0] = 20  # past jwks_refresh_seconds: a refresh is tried and fails
    assert call(client, ehr, hook_request(searchset())).status_code == 200
    # a key never seen is not accepted (and the URL is not asked again within 10 s)
    assert call(client, FakeEhr("ES384", kid="never-seen"), hook_request(searchset())).status_code == 401
    assert sum(request.url.path == "/jwks.json" for request in fhir.requests) == 2  # once more, not per call


def test_unreachable_jwks_is_503_not_a_pass(make_client, ehr):
    fhir = FakeFhirServer(fail=httpx.ConnectError("refused"))
    client = make_client(fhir=fhir, clients=[{"issuer": ISSUER, "jwks": "https://ehr.example.org/jwks.json"}])
    assert call(client, ehr, hook_request(searchset())).status_code == 503
