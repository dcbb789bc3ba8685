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

    verdict = zxcvbn(password, user_inputs=[name, *SERVICE_WORDS])
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
