"""The staff members' TOTP secrets sealed at rest (ASVS 2.8.2), with the key file that already keys
the audit chain (``AuditKeys``, TRIAGE_AUDIT_KEY_FILE): a copy of the store alone (a backup taken off
the machine) no longer gives working second factors.

A secret is stored as ``sealed:v1:<key id>:<base64 of nonce + AES-256-GCM ciphertext>``. The AES key
is derived from the audit key by HKDF-SHA256 under its own label, so the audit key itself never
encrypts anything and the two uses cannot be confused. The account name and the prefix are the
associated data: a sealed secret copied to another account, or relabelled with another key id, does
not open. Older keys in the file still open what they sealed (rotation); new seals use the newest.
A clear secret (stored before a key file was given) is still read as it is; ``triage db migrate``
with the key file seals those (``Store.seal_second_factors``)."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from triage.core.errors import SecondFactorUnavailable, StoreError
from triage.records.store.audit import AuditKeys

SEALED_PREFIX = "sealed:v1:"
HKDF_INFO = b"fbss-triage totp secret v1"  # never the audit chain's use of the same key
NONCE_BYTES = 12  # 96 bits, random for each seal


def _aes_key(audit_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(audit_key)


def _associated(key_id: str, name: str) -> bytes:
    return f"{SEALED_PREFIX}{key_id}\0{name}".encode("utf-8")


def sealed_with(stored: str) -> str | None:
    """The key id of a sealed secret; None for a clear one."""
    if not stored.startswith(SEALED_PREFIX):
        return None
    return stored[len(SEALED_PREFIX):].partition(":")[0]


def seal(keys: AuditKeys, name: str, secret: str) -> str:
    """The stored form of ``name``'s secret, sealed with the newest key of the file."""
    key_id, key = keys.newest
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_aes_key(key)).encrypt(nonce, secret.encode("ascii"), _associated(key_id, name))
    return f"{SEALED_PREFIX}{key_id}:{base64.b64encode(nonce + sealed).decode('ascii')}"


def open_secret(keys: AuditKeys | None, name: str, stored: str) -> str:
    """``name``'s secret as stored (clear, or sealed and opened); SecondFactorUnavailable when a
    sealed one cannot be opened with these keys (none, not the one it was sealed with, or altered)."""
    key_id = sealed_with(stored)
    if key_id is None:
        return stored
    if keys is None:
        raise SecondFactorUnavailable(name, key_id, "no key file is given to this process (TRIAGE_AUDIT_KEY_FILE)")
    key = keys.get(key_id)
    if key is None:
        try:
            keys = AuditKeys.load(keys.path)  # a key appended since this process read the file?
            key = keys.get(key_id)
        except StoreError:  # the file is gone or unreadable now: the same as not holding the key
            pass
    if key is None:
        # (no path: the web log cuts paths to their first segment, and the file is named where it is given)
        raise SecondFactorUnavailable(name, key_id, "the key file given (TRIAGE_AUDIT_KEY_FILE) does not hold it")
    try:
        data = base64.b64decode(stored[len(SEALED_PREFIX) + len(key_id) + 1:], validate=True)
        if len(data) <= NONCE_BYTES:
            raise ValueError("too short")
        secret = AESGCM(_aes_key(key)).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], _associated(key_id, name))
        return secret.decode("ascii")
    except (InvalidTag, ValueError):
        raise SecondFactorUnavailable(name, key_id, "does not open: altered, or copied from another "
                                      "account (audit verify; reset-second-factor)") from None


def needs_sealing(keys: AuditKeys, stored: str) -> bool:
    """A clear secret, or one sealed with an older key than the file's newest."""
    return sealed_with(stored) != keys.newest[0]
