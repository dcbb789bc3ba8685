"""Staff accounts for the web pages: roles, names, and passwords hashed with argon2id.

Domain core. argon2-cffi (a well-kept binding of the reference implementation) does the hashing, with
its default parameters (RFC 9106 "low memory" profile: time cost 3, 64 MiB, parallelism 4), which are
recorded in each hash, so raising them later re-hashes at the next sign-in. No password is ever
stored, logged or shown; there is no default account.
"""

from __future__ import annotations

import re
from functools import lru_cache

COORDINATOR, CLINICIAN = "coordinator", "clinician"
ROLES = (COORDINATOR, CLINICIAN)
MIN_PASSWORD = 12  # OWASP ASVS 2.1.1; no composition rules (2.1.9), long pass phrases welcome
MAX_PASSWORD = 128
_NAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")


def check_name(name: str) -> str | None:
    """Why ``name`` cannot be a user name, or None."""
    if not _NAME.match(name):
        return "use 2 to 32 lower-case letters, digits, dots, dashes or underscores, starting with a letter"
    return None


# Words of this service a guesser would try first, beside the user name.
SERVICE_WORDS = ("triage", "fbss", "fusion", "spine", "clinic", "staff", "coordinator", "clinician")
MIN_STRENGTH = 3  # zxcvbn's score (0-4): 3 = about 10^8 guesses or more, "safely unguessable" online


def check_password(password: str, name: str) -> str | None:
    """Why ``password`` cannot be used, or None: its length (ASVS 2.1.1, 2.1.2), the user name in it,
    and whether it is common or easy to guess (ASVS 2.1.7). For the last, zxcvbn (Dropbox's
    estimator): it ships its lists offline (the 30,000 most common passwords of leaked password
    sets, English words, names, keyboard patterns) and scores a password by how many guesses its
    parts would take, so "password1234" and "Summer2026" variants fail while a few unrelated words
    pass; no composition rules (ASVS 2.1.9)."""
    if len(password) < MIN_PASSWORD:
        return f"use at least {MIN_PASSWORD} characters (a few words make a good one)"
    if len(password) > MAX_PASSWORD:
        return f"use at most {MAX_PASSWORD} characters"
    if name.lower() in password.lower():
        return "the password must not contain the user name"
    from zxcvbn import zxcvbn

    # zxcvbn refuses (raises on) anything over 72 characters unless told: the whole password is
    # estimated (about 0.2 s at 128, measured here), so a long pass phrase is neither cut nor a crash.
    verdict = zxcvbn(password, user_inputs=[name, *SERVICE_WORDS], max_length=MAX_PASSWORD)
    if verdict["score"] < MIN_STRENGTH:
        warning = (verdict["feedback"].get("warning") or "").rstrip(".")
        why = f" ({warning[0].lower() + warning[1:]})" if warning else ""
        return f"this password is common or easy to guess{why}: a few unrelated words make a good one"
    return None


@lru_cache(maxsize=1)
def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return _hasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not a password of anyone, for constant-time refusals")


def verify_nobody(password: str) -> bool:
    """Spend the time a real check takes, for a name that does not exist (no user-name oracle)."""
    verify_password(_dummy_hash(), password)
    return False


# --- the second factor: time-based one-time codes (RFC 6238) and recovery codes -------------------
# pyotp (a well-kept implementation of RFC 4226/6238) computes the codes; the policy is ours: 6 digits,
# 30-second steps, one step either side accepted (a phone's clock a little off), each step used once
# (the store keeps the last), and 10 single-use recovery codes of 20 symbols (about 98 bits) kept as
# hashes salted with the account's name.

TOTP_PERIOD = 30
TOTP_DIGITS = 6
TOTP_ISSUER = "FBSS triage"
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstvwxyz"  # no 0/o, 1/l/i, u: read aloud or typed without doubt
_RECOVERY_LENGTH = 20


def new_totp_secret() -> str:
    import pyotp

    return pyotp.random_base32(32)  # 160 bits, as RFC 4226 recommends


def totp_uri(secret: str, name: str) -> str:
    """The otpauth:// link an authenticator app reads (typed, or from a QR code)."""
    import pyotp

    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).provisioning_uri(name=name, issuer_name=TOTP_ISSUER)


def totp_code(secret: str, step: int) -> str:
    import pyotp

    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).at(step * TOTP_PERIOD)


def totp_step(now: float) -> int:
    return int(now // TOTP_PERIOD)


def totp_matches(secret: str, typed: str, now: float) -> int | None:
    """The time step whose code ``typed`` is (this step, or one either side), or None."""
    import hmac

    typed = typed.replace(" ", "")
    if len(typed) != TOTP_DIGITS or not typed.isdigit():
        return None
    current = totp_step(now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp_code(secret, step), typed):
            return step
    return None


def new_recovery_codes() -> list[str]:
    import secrets

    codes = []
    for _ in range(RECOVERY_CODES):
        symbols = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append("-".join(symbols[i:i + 5] for i in range(0, _RECOVERY_LENGTH, 5)))
    return codes


def recovery_hash(name: str, typed: str) -> str | None:
    """The stored form of a recovery code as typed (case, spaces and dashes do not matter), or None
    when it cannot be one."""
    import hashlib

    symbols = "".join(ch for ch in typed.lower() if ch not in " -\t")
    if len(symbols) != _RECOVERY_LENGTH or any(ch not in _RECOVERY_ALPHABET for ch in symbols):
        return None
    return hashlib.sha256(f"{name}:{symbols}".encode()).hexdigest()
