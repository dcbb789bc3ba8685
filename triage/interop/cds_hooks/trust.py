"""Trusting the EHR (specification, "Trusting CDS Clients"): every call carries the EHR's signed JWT.

It is checked against the JWKS configured for its issuer (a file or an https URL: never a URL the
token names), for an asymmetric algorithm, the audience (our own configured URL, never the request's
Host header), expiry and a bounded lifetime, and a `jti` never seen before (``ReplayCache`` in one
process; ``StoreReplays``, the store's replay table, when processes share a store). Anything else is
401; keys that cannot be read are 503, never a pass. PyJWT and httpx are imported only when used.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

from triage.interop.cds_hooks.config import CdsHooksConfig, TrustedClient
from triage.interop.cds_hooks.protocol import Unauthorized, Unavailable

# Only asymmetric algorithms (the specification forbids `none` and shared-secret HMAC).
ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA")
KEY_TYPES = {"ES": "EC", "RS": "RSA", "PS": "RSA", "Ed": "OKP"}


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
        from triage.core.errors import StoreError

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
