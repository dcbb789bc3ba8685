"""Invitation codes: how a patient opens their own intake on the web (`triage invite`, kiosk start).

A code is 10 symbols from a 30-symbol alphabet with no look-alikes (no 0/O, 1/I/L, and no U), shown
as two groups of five (``7KQ4M-X2RHD``): about 49 bits of randomness, easy to read aloud and to type.
Only its SHA-256 is stored, so the store never holds a code that opens an intake. Domain core: stdlib.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from datetime import datetime, timedelta, timezone

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 10
BITS = math.floor(LENGTH * math.log2(len(ALPHABET)))  # 49
DEFAULT_EXPIRY_DAYS = 7
KIOSK_EXPIRY_DAYS = 2  # a code shown on a reception tablet, for coming back to a half-done intake


def new_code() -> str:
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{symbols[:5]}-{symbols[5:]}"


def normalise(typed: str) -> str | None:
    """A typed code in its canonical form, or None when it cannot be one. Case, spaces and dashes
    do not matter."""
    symbols = "".join(ch for ch in typed.upper() if ch not in " -\t")
    if len(symbols) != LENGTH or any(ch not in ALPHABET for ch in symbols):
        return None
    return f"{symbols[:5]}-{symbols[5:]}"


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def expiry(days: int, *, now: datetime | None = None) -> str:
    """The UTC moment a code issued now for ``days`` stops working, in the store's timestamp form."""
    moment = (now or datetime.now(timezone.utc)) + timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
