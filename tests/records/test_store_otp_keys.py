"""The staff members' TOTP secrets sealed at rest with the audit key file (ASVS 2.8.2,
triage/records/store/otp_keys.py), on both backends: sealed at enrolment when a key file is given,
clear without one, clear ones from before still working and sealed by `triage db migrate`, rotation,
a sealed secret copied to another account or altered refused, a missing key never a silent pass."""

from __future__ import annotations

import pytest

from conftest import run_cli
from triage.core.errors import SecondFactorUnavailable
from triage.records.store import AuditKeys, open_store

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
KEY_1, KEY_2, KEY_3 = "1f" * 32, "2e" * 32, "3d" * 32


def write_keys(path, *keys: str):
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text("".join(f"{key}\n" for key in keys), encoding="ascii")
    path.chmod(0o600)
    return AuditKeys.load(path)


@pytest.fixture
def keys_path(tmp_path, monkeypatch):
    monkeypatch.delenv("TRIAGE_AUDIT_KEY_FILE", raising=False)
    return tmp_path / "keys" / "audit.key"


def stored_secret(location, name: str) -> str:
    with open_store(location) as store:
        return store._db.execute("SELECT totp_secret FROM users WHERE name = ?", (name,)).fetchone()[0]


def enrolled(location, keys, *names: str, secret: str = SECRET) -> None:
    with open_store(location, audit_keys=keys) as store:
        for name in names:
            store.add_user(name, "coordinator", "not-a-real-hash", by="admin")
            assert store.enroll_second_factor(name, secret, 100, [])


def verify(location, keys_path) -> None:
    run = run_cli("audit", "verify", "--db", str(location), *(("--key-file", str(keys_path)) if keys_path.exists()
                                                               else ()))
    assert run.code == 0, run.err


def test_with_a_key_file_a_secret_is_sealed_at_enrolment_and_still_opens(store_location, keys_path):
    keys = write_keys(keys_path, KEY_1)
    enrolled(store_location, keys, "cora")
    stored = stored_secret(store_location, "cora")
    assert stored.startswith(f"sealed:v1:{keys.newest[0]}:") and SECRET not in stored
    with open_store(store_location, audit_keys=keys) as store:
        assert store.second_factor("cora") == (SECRET, 100)
        assert store.second_factor_keys() == {"clear": 0, "sealed": 1, "unopenable": 0}
    verify(store_location, keys_path)


def test_without_a_key_file_a_secret_is_kept_as_before(store_location, keys_path):
    enrolled(store_location, None, "cora")
    assert stored_secret(store_location, "cora") == SECRET
    with open_store(store_location) as store:
        assert store.second_factor("cora") == (SECRET, 100)
        assert store.seal_second_factors() == (0, 0)  # nothing to seal with
        assert store.second_factor_keys() == {"clear": 1, "sealed": 0, "unopenable": 0}


def test_a_clear_secret_from_before_works_with_a_key_file_and_db_migrate_seals_it_audited(store_location, keys_path,
                                                                                          monkeypatch):
    enrolled(store_location, None, "cora", "clint")
    keys = write_keys(keys_path, KEY_1)
    with open_store(store_location, audit_keys=keys) as store:
        assert store.second_factor("cora") == (SECRET, 100)  # an existing install is not locked out
    monkeypatch.setenv("TRIAGE_AUDIT_KEY_FILE", str(keys_path))
    run = run_cli("db", "migrate", "--db", str(store_location))
    assert run.code == 0 and "sealed 2 staff second factors with the newest key of" in run.err, run.err
    for name in ("cora", "clint"):
        assert stored_secret(store_location, name).startswith(f"sealed:v1:{keys.newest[0]}:")
    with open_store(store_location, audit_keys=keys) as store:
        assert store.second_factor("clint") == (SECRET, 100)
        rows = store._db.execute("SELECT \"user\", detail FROM audit WHERE action = 'second_factor_sealed'"
                                 " ORDER BY seq").fetchall()
    assert [user for user, _ in rows] == ["triage-migration"] * 2
    assert all(f'"key":"{keys.newest[0]}"' in detail and '"was":"clear"' in detail and SECRET not in detail
               for _, detail in rows)
    again = run_cli("db", "migrate", "--db", str(store_location))
    assert again.code == 0 and "sealed" not in again.err  # once
    verify(store_location, keys_path)  # the accounts' hashes follow the sealed secrets


def test_after_a_rotation_old_secrets_open_new_ones_use_the_new_key_and_migrate_reseals(store_location, keys_path):
    old = write_keys(keys_path, KEY_1)
    enrolled(store_location, old, "cora")
    rotated = write_keys(keys_path, KEY_1, KEY_2)
    enrolled(store_location, rotated, "clint")
    assert stored_secret(store_location, "cora").startswith(f"sealed:v1:{old.newest[0]}:")
    assert stored_secret(store_location, "clint").startswith(f"sealed:v1:{rotated.newest[0]}:")
    assert old.newest[0] != rotated.newest[0]
    with open_store(store_location, audit_keys=rotated) as store:
        assert store.second_factor("cora") == (SECRET, 100)
        assert store.second_factor("clint") == (SECRET, 100)
        assert store.seal_second_factors() == (1, 0)  # cora's, with the newest key
    assert stored_secret(store_location, "cora").startswith(f"sealed:v1:{rotated.newest[0]}:")
    # A process started before the rotation reads the file again for a key id it does not know.
    with open_store(store_location, audit_keys=old) as store:
        assert store.second_factor("clint") == (SECRET, 100)
    verify(store_location, keys_path)


def test_a_sealed_secret_copied_to_another_account_does_not_open(store_location, keys_path, monkeypatch):
    keys = write_keys(keys_path, KEY_1)
    enrolled(store_location, keys, "cora", "clint", secret=SECRET)
    with open_store(store_location, audit_keys=keys) as store:
        copied = stored_secret(store_location, "cora")
        with store._write() as db:  # by hand, as someone who can write the database could
            db.execute("UPDATE users SET totp_secret = ? WHERE name = 'clint'", (copied,))
        with pytest.raises(SecondFactorUnavailable, match="staff account clint: .* does not open"):
            store.second_factor("clint")
        assert store.second_factor("cora") == (SECRET, 100)
        assert store.second_factor_keys() == {"clear": 0, "sealed": 1, "unopenable": 1}
    monkeypatch.setenv("TRIAGE_AUDIT_KEY_FILE", str(keys_path))
    run = run_cli("db", "migrate", "--db", str(store_location))  # tells the administrator, changes nothing
    assert run.code == 0 and run.err.startswith(f"warning: 1 staff second factor is sealed with a key that {keys_path} "
                                                "does not hold (or altered)"), run.err


@pytest.mark.parametrize("change", ["flip a byte", "other key id", "cut short", "not base64"])
def test_a_tampered_sealed_secret_is_refused(store_location, keys_path, change):
    import base64

    keys = write_keys(keys_path, KEY_1, KEY_2)
    enrolled(store_location, keys, "cora")
    stored = stored_secret(store_location, "cora")
    prefix, _, data = stored.rpartition(":")
    if change == "flip a byte":
        raw = bytearray(base64.b64decode(data))
        raw[-1] ^= 1
        altered = f"{prefix}:{base64.b64encode(bytes(raw)).decode()}"
    elif change == "other key id":
        altered = stored.replace(keys.newest[0], keys.keys[0][0])
    elif change == "cut short":
        altered = f"{prefix}:{base64.b64encode(base64.b64decode(data)[:12]).decode()}"
    else:
        altered = f"{prefix}:***"
    with open_store(store_location, audit_keys=keys) as store:
        with store._write() as db:
            db.execute("UPDATE users SET totp_secret = ? WHERE name = 'cora'", (altered,))
        with pytest.raises(SecondFactorUnavailable, match="does not open"):
            store.second_factor("cora")
        assert store.seal_second_factors() == (0, 1)  # left as found, counted
    assert stored_secret(store_location, "cora") == altered


@pytest.mark.parametrize("given", ["no key file", "another key file"])
def test_a_sealed_secret_whose_key_is_missing_is_never_a_silent_pass(store_location, keys_path, tmp_path, given):
    keys = write_keys(keys_path, KEY_1)
    enrolled(store_location, keys, "cora")
    other = None if given == "no key file" else write_keys(tmp_path / "other" / "audit.key", KEY_3)
    with open_store(store_location, audit_keys=other) as store:
        with pytest.raises(SecondFactorUnavailable) as raised:
            store.second_factor("cora")
        assert raised.value.name == "cora" and raised.value.key_id == keys.newest[0]
        assert SECRET not in str(raised.value)
        assert store.second_factor_keys() == {"clear": 0, "sealed": 0, "unopenable": 1}
