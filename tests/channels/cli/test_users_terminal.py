"""`triage users` at a terminal, as a person meets it: `users add` checks the password rules before it
asks for the repeat, and a refused password or a repeat that differs asks again (the command is not
typed again); `users list` has a header."""

from __future__ import annotations

import re

import pexpect

from conftest import run_cli
from support.cli import TRIAGE, installed_env

GOOD = "correct horse battery staple kiwi"


def spawn(tmp_path, *args: str) -> pexpect.spawn:
    env = installed_env(TERM="dumb", NO_COLOR="1")
    return pexpect.spawn(TRIAGE[0], ["users", *args, "--db", str(tmp_path / "u.db")], cwd=str(tmp_path),
                         env=env, encoding="utf-8", timeout=30, dimensions=(24, 80))


def test_a_short_password_is_refused_before_the_repeat_and_asked_again(tmp_path):
    child = spawn(tmp_path, "add", "dana", "--role", "clinician")
    child.expect_exact("New password for dana: ")
    child.sendline("short")
    # refused at once: no "The same password again" for a password that cannot be used
    assert child.expect_exact(["Use at least 12 characters", "The same password again: "]) == 0
    child.expect_exact("New password for dana: ")
    child.sendline(GOOD)
    child.expect_exact("The same password again: ")
    child.sendline(GOOD + "x")
    child.expect_exact("The two passwords differ")
    child.expect_exact("New password for dana: ")
    child.sendline(GOOD)
    child.expect_exact("The same password again: ")
    child.sendline(GOOD)
    child.expect_exact("added: dana (clinician)")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "dana" in run_cli("users", "list", "--db", str(tmp_path / "u.db")).out


def test_three_refused_passwords_change_nothing(tmp_path):
    child = spawn(tmp_path, "add", "dana", "--role", "clinician")
    for _ in range(3):
        child.expect_exact("New password for dana: ")
        child.sendline("short")
    child.expect_exact("error: triage users add: password: no usable password after 3 tries; nothing was changed")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert "dana" not in run_cli("users", "list", "--db", str(tmp_path / "u.db")).out


def test_users_list_has_a_header_over_its_columns(tmp_path, monkeypatch):
    import io

    db = str(tmp_path / "u.db")
    for name, role in (("dana", "clinician"), ("cora-long-name", "coordinator")):
        monkeypatch.setattr("sys.stdin", io.StringIO(GOOD + "\n"))
        assert run_cli("users", "add", name, "--role", role, "--password-stdin", "--db", db).code == 0
    assert run_cli("users", "disable", "dana", "--db", db).code == 0
    lines = run_cli("users", "list", "--db", db).out.splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "STATE", "CHANGED", "(UTC)"]
    starts = [lines[0].index(word) for word in ("ROLE", "STATE", "CHANGED")]
    for line in lines[1:]:  # every cell under its heading
        assert [re.search(r"\S", line[start:]).start() for start in starts] == [0, 0, 0], lines
    assert re.match(r"dana\s+clinician\s+disabled\s+\d{4}-\d\d-\d\d", lines[1]) or \
        re.match(r"dana\s+clinician\s+disabled\s+\d{4}-\d\d-\d\d", lines[2])
    assert max(len(line) for line in lines) <= 60


def test_disabling_an_account_that_does_not_exist_says_so(tmp_path):
    run = run_cli("users", "disable", "nobody", "--db", str(tmp_path / "u.db"))
    assert (run.code, run.err) == (2, "error: triage users disable: NAME: no user named 'nobody'\n")


def test_users_list_tells_the_administrator_about_second_factors_this_process_cannot_open(tmp_path, monkeypatch):
    """ASVS 2.8.2 (docs/security.md): a secret sealed with a key the process lacks is an account that
    cannot sign in on a server run like it; clear ones, with a key file, are for db migrate to seal."""
    from triage.records.store import AuditKeys, open_store

    db = tmp_path / "u.db"
    keys = []
    for folder, key in (("keys", "1f" * 32), ("other", "2e" * 32)):
        (tmp_path / folder).mkdir(mode=0o700)
        path = tmp_path / folder / "audit.key"
        path.write_text(key + "\n", encoding="ascii")
        path.chmod(0o600)
        keys.append(path)
    monkeypatch.delenv("TRIAGE_AUDIT_KEY_FILE", raising=False)
    with open_store(db) as store:
        store.add_user("dana", "clinician", "not-a-real-hash", by="admin")
        store.enroll_second_factor("dana", "JBSWY3DPEHPK3PXP", 100, [])  # clear: no key file yet
    with open_store(db, audit_keys=AuditKeys.load(keys[0])) as store:
        store.add_user("cora", "coordinator", "not-a-real-hash", by="admin")
        store.enroll_second_factor("cora", "JBSWY3DPEHPK3PXQ", 100, [])  # sealed
    monkeypatch.setenv("TRIAGE_AUDIT_KEY_FILE", str(keys[0]))
    run = run_cli("users", "list", "--db", str(db))
    assert run.code == 0 and run.err == ("1 account has a second factor kept in clear: triage db migrate (as the "
                                         "database owner, with this key file) seals them\n")
    monkeypatch.setenv("TRIAGE_AUDIT_KEY_FILE", str(keys[1]))
    run = run_cli("users", "list", "--db", str(db))
    assert run.code == 0 and run.err.startswith(f"warning: 1 account has a second factor sealed with a key that {keys[1]} "
                                                "does not hold (or altered): they cannot sign in"), run.err
    monkeypatch.delenv("TRIAGE_AUDIT_KEY_FILE")
    run = run_cli("users", "list", "--db", str(db))
    assert run.code == 0 and "1 account has a second factor sealed and no key file is given" in run.err
    assert "kept in clear" not in run.err  # without a key file there is nothing to seal them with
