"""The store on PostgreSQL: what only that backend has. The store suite itself (test_store*.py) runs on
both backends through the ``store_location`` fixture; here: psycopg loaded only for a postgresql://
store, passwords never shown, URL options passed through, refusals, least-privilege roles, and eight
processes of different kinds writing one store at once."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from support.cli import SCRATCH
from support.postgres import Raw
from triage.core.errors import StoreError
from triage.records.store import open_store

CLI = str(ROOT / "cli.py")
RESULT = {"status": "urgent", "red_flags": ["red_flag_major_trauma"], "physician_consult": {"urgency": "emergency"},
          "missing_items": [], "ruleset": {"name": "fbss-triage", "version": "1"}, "settings": {}}


# -- psycopg only where it is needed ---------------------------------------------------------------

def test_only_the_postgresql_backend_imports_psycopg():
    importers = []
    for path in sorted((ROOT / "triage").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(name.split(".")[0] == "psycopg" for name in names):
                importers.append(path.relative_to(ROOT).as_posix())
    assert sorted(set(importers)) == ["triage/records/store/postgresql.py"]


def test_assess_and_list_on_sqlite_do_not_load_psycopg(tmp_path):
    answers = tmp_path / "a.json"
    answers.write_text('{"patient_id": "P-1"}', encoding="utf-8")
    probe = ("import sys, io; from triage.channels.cli.main import main; "
             "codes = [main(args, out=io.StringIO(), err=io.StringIO()) for args in ("
             f"['assess', {str(answers)!r}, '--save', '--db', {str(tmp_path / 't.db')!r}],"
             f"['list', '--db', {str(tmp_path / 't.db')!r}])]; "
             "print(codes, sorted(m for m in sys.modules if m.split('.')[0] == 'psycopg'))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=SCRATCH, check=True)
    assert loaded.stdout.strip() == "[0, 0] []", loaded.stderr


# -- URLs: passwords never shown, options passed through -------------------------------------------

def test_a_password_in_the_url_is_never_shown():
    from triage.records.store.postgresql import redact

    assert redact("postgresql://app:s3cret@db.example:5433/triage?sslmode=verify-full&sslrootcert=/etc/ca.pem") == \
        "postgresql://app:***@db.example:5433/triage?sslmode=verify-full&sslrootcert=/etc/ca.pem"
    assert "s3cret" not in redact("postgresql://app@db.example/triage?password=s3cret&sslmode=require")
    assert redact("postgresql://app@/triage?host=/run/pg") == "postgresql://app@/triage?host=/run/pg"


def test_an_unreachable_server_is_one_line_without_the_password(tmp_path):
    url = f"postgresql://app:s3cret@/triage?host={tmp_path}&connect_timeout=2"
    run = run_cli("list", "--db", url)
    assert run.code == 5 and run.out == "" and len(run.err.splitlines()) == 1
    assert run.err.startswith("error: triage list: store: postgresql://app:***@/triage?host=") and "cannot connect" in run.err
    assert "s3cret" not in run.err


def test_url_options_reach_the_server(pg_url):
    """libpq gets the URL untouched: TLS options (sslmode, sslrootcert...) like this one."""
    with open_store(pg_url + "&application_name=clinic-north") as store:
        assert store._db.execute("SELECT current_setting('application_name')").fetchone()[0] == "clinic-north"
        assert store.backend == "postgresql"


def test_the_environment_names_a_postgresql_store(pg_url, monkeypatch, answers_file):
    monkeypatch.setenv("TRIAGE_DB", pg_url)
    assert run_cli("assess", answers_file({"patient_id": "P-1"}), "--save").code == 0
    assert run_cli("list", "--format", "json").json["total"] == 1


# -- refusals ----------------------------------------------------------------------------------

def test_every_schema_change_has_its_postgresql_migration():
    """A migration added to store.MIGRATIONS (SQLite) needs its PostgreSQL twin, or new stores and
    upgraded ones would differ from SQLite's."""
    from triage.records.store import postgresql as store_postgresql
    from triage.records.store import SCHEMA_VERSION

    assert sorted(store_postgresql.MIGRATIONS) == list(range(store_postgresql.BASE_SCHEMA, SCHEMA_VERSION))


def test_a_store_at_the_base_schema_is_upgraded_on_opening(pg_url):
    from triage.records.store import postgresql as store_postgresql

    with open_store(pg_url) as store:  # a terminal draft with a yes, saved before drafts raised alerts
        store.red_flag_tiers = {}
        old_draft = store.save_draft({"red_flag_saddle_numbness": "yes"}, user="nurse")
    with Raw(pg_url) as raw:  # back to the schema a PostgreSQL store starts from
        raw.undo_scale_schema()
        raw.execute("DROP TABLE record_files")  # uploads (PostgreSQL 14)
        raw.execute("ALTER TABLE invites DROP COLUMN language")
        raw.execute("ALTER TABLE alerts DROP COLUMN answer_changed_at")
        raw.execute("DROP INDEX alerts_one_open")
        raw.execute("DROP INDEX alerts_intake")
        raw.execute("ALTER TABLE alerts ADD CONSTRAINT alerts_intake_id_question_key UNIQUE (intake_id, question)")
        raw.execute("ALTER TABLE worklist DROP COLUMN alert_urgency")  # its index goes with it
        raw.execute("ALTER TABLE alerts DROP COLUMN kiosk")
        raw.execute("DROP TABLE rate_limits, known_devices, recovery_codes")
        raw.execute("ALTER TABLE users DROP COLUMN totp_secret, DROP COLUMN totp_last_step")  # (what later schemas added, gone too)
        for statement in ("DROP TABLE sessions", "DROP TABLE token_uses",  # schema 8's (sessions)
                          "ALTER TABLE users DROP COLUMN session_generation"):
            raw.execute(statement)
        raw.execute("DROP FUNCTION triage_replace_password")  # verify (schema 11)
        raw.execute("DROP FUNCTION triage_enroll_second_factor; DROP FUNCTION triage_end_account_sessions")  # lead (13)
        raw.execute("DROP TABLE record_requests")  # records (schema 14)
        raw.execute("ALTER TABLE users DROP COLUMN alert_sound")  # alertsound (schema 16)
        raw.execute(f"UPDATE triage_store SET schema_version = {store_postgresql.BASE_SCHEMA}")
    with open_store(pg_url) as store:
        store.create_invite("c" * 64, expires_at="2099-01-01T00:00:00Z", user="nurse", answers={})
        # schema 8 raised the old draft's alert and sorts it with the emergencies
        assert [(a.intake_id, a.urgency) for a in store.open_alerts()] == [(old_draft.intake_id, "emergency")]
        assert store.worklist(urgency="emergency")[0].intake_id == old_draft.intake_id
        assert store.verify_audit().ok
    with Raw(pg_url) as raw:
        assert raw.execute("SELECT schema_version FROM triage_store").fetchone()[0] == store_postgresql.SCHEMA_VERSION


def test_another_programs_database_is_refused(pg_url):
    with Raw(pg_url) as raw:
        raw.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(StoreError, match="holds tables of another program"):
        open_store(pg_url)


def test_a_newer_schema_is_refused(pg_url):
    open_store(pg_url).close()
    with Raw(pg_url) as raw:
        raw.execute("UPDATE triage_store SET schema_version = 99")
    run = run_cli("list", "--db", pg_url)
    assert run.code == 5 and "written by a newer version of triage (store schema 99" in run.err


def test_two_processes_creating_one_store_at_once_create_it_once(pg_url):
    command = [sys.executable, CLI, "list", "--db", pg_url]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    finished = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0] * 4, [err for _, err in finished]
    assert run_cli("audit", "verify", "--db", pg_url).code == 0


# -- roles of least privilege ------------------------------------------------------------------

@pytest.fixture
def roles(pg_url, postgres_cluster):
    """The store created by its owner (`triage db migrate`) with an application role and an admin role
    granted: (application URL, admin URL)."""
    role = "triage_app_" + pg_url.split("/")[3].split("?")[0]
    admin = "triage_admin_" + pg_url.split("/")[3].split("?")[0]
    postgres_cluster.admin(f'CREATE ROLE "{role}" LOGIN')
    postgres_cluster.admin(f'CREATE ROLE "{admin}" LOGIN')
    migrated = run_cli("db", "migrate", "--db", pg_url, "--app-role", role, "--admin-role", admin)
    assert migrated.code == 0, migrated.err
    assert f"role {role} may read and add" in migrated.out and f"role {admin} may manage accounts" in migrated.out
    yield pg_url.replace("triage@", f"{role}@"), pg_url.replace("triage@", f"{admin}@")
    postgres_cluster.drop_database(pg_url)
    postgres_cluster.admin(f'DROP ROLE "{role}"')
    postgres_cluster.admin(f'DROP ROLE "{admin}"')


@pytest.fixture
def app_url(roles):
    return roles[0]


def test_the_application_role_cannot_change_or_remove_audit_rows_or_versions(app_url, answers_file):
    assert run_cli("assess", answers_file({"patient_id": "P-1", "red_flag_major_trauma": "yes"}), "--save",
                   "--db", app_url).code == 0
    with open_store(app_url) as store:  # everything the clinics' machines do
        intake = store.save_draft({"patient_id": "P-2"}, user="nurse").intake_id
        store.record_assessment({"patient_id": "P-2"}, RESULT, user="nurse", intake_id=intake, base_version=0,
                                draft_revision=1)
        store.create_invite("c" * 64, expires_at="2099-01-01T00:00:00Z", user="nurse", intake_id=1)
        store.acknowledge_alerts(1, user="dr-who")
        store.log_access("listed", user="nurse")
    with Raw(app_url) as raw:
        assert raw.execute("SELECT count(*) FROM audit").fetchone()[0] > 0  # it may read them
        for statement in ("UPDATE audit SET detail = '{}'", "DELETE FROM audit", "TRUNCATE audit",
                          "UPDATE versions SET status = 'ready_for_evaluation'", "DELETE FROM versions",
                          "ALTER TABLE audit DISABLE TRIGGER USER", "DROP TRIGGER audit_append_only ON audit",
                          "DELETE FROM intakes"):
            with pytest.raises(Exception) as refused:
                raw.execute(statement)
            assert type(refused.value).__name__ in ("InsufficientPrivilege", "RaiseException"), (statement, refused.value)
        # ...and what the owner could do by hand, the application role cannot: nothing was changed.
    assert run_cli("audit", "verify", "--db", app_url).code == 0


def test_the_application_role_cannot_create_or_upgrade_the_schema(pg_url, postgres_cluster):
    role = "triage_app_" + pg_url.split("/")[3].split("?")[0]
    postgres_cluster.admin(f'CREATE ROLE "{role}" LOGIN')
    try:
        with Raw(pg_url) as raw:  # PostgreSQL 15: only the database owner may create in schema public
            raw.execute(f'GRANT CONNECT ON DATABASE "{pg_url.split("/")[3].split("?")[0]}" TO "{role}"')
        run = run_cli("list", "--db", pg_url.replace("triage@", f"{role}@"))
        assert run.code == 5 and "run `triage db migrate` as the database's owner" in run.err, run.err
    finally:
        postgres_cluster.drop_database(pg_url)
        postgres_cluster.admin(f'DROP ROLE "{role}"')


def test_app_role_is_only_for_postgresql(tmp_path):
    run = run_cli("db", "migrate", "--db", str(tmp_path / "t.db"), "--app-role", "x")
    assert run.code == 5 and "--app-role is for a PostgreSQL store" in run.err
    assert run_cli("db", "migrate", "--db", str(tmp_path / "t.db")).code == 0


# -- several machines at once ----------------------------------------------------------------------

# One terminal intake typed through a pipe: a new intake, saved as a draft after every answer.
PIPED = ["2026-11-24", "2024-03", "L4-S1", "y", "y", "09/2025", "L3-4", "3", "2 3", "1", "7",
         "n", "n", *["n"] * 10, "y", "y", "n", "y", "n", "n"]

AMENDER = r"""
import io, json, sys
from triage.channels.cli.main import main
answers, rounds = sys.argv[1], int(sys.argv[2])
for _ in range(rounds):  # read the latest version, amend it; exit 6 = someone else got there first
    out = io.StringIO()
    assert main(["show", "1", "--format", "json"], out=out, err=io.StringIO()) == 0
    base = json.loads(out.getvalue())["version"]
    err = io.StringIO()
    code = main(["assess", answers, "--amend", "1", "--base-version", str(base), "--format", "json"],
                out=io.StringIO(), err=err)
    assert code in (0, 6), err.getvalue()
    print("ok" if code == 0 else "conflict", base + 1, flush=True)
"""


def test_eight_processes_of_every_kind_on_one_store_lose_and_duplicate_nothing(pg_url, tmp_path):
    """3 terminal intakes (piped answers), 2 `batch --save` runs, 3 read-and-amend loops, all at once."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import generate

    env = {**os.environ, "TRIAGE_DB": pg_url, "TERM": "dumb", "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    env.pop("TRIAGE_SETTINGS", None)
    first = tmp_path / "first.json"
    first.write_text(json.dumps({"patient_id": "AMENDED", "pain_score": 4}), encoding="utf-8")
    assert run_cli("assess", str(first), "--save", "--db", pg_url).code == 0  # intake 1, amended below
    inputs = []
    for number in range(2):
        path = tmp_path / f"backlog-{number}.jsonl"
        path.write_text("".join(line + "\n" for line in generate.lines(40, seed=100 + number)), encoding="utf-8")
        inputs.append(path)

    typed = tmp_path / "typed.txt"
    typed.write_text("".join(f"{line}\n" for line in PIPED), encoding="utf-8")

    def start(command: list[str], piped: bool = False) -> subprocess.Popen:
        with open(typed if piped else os.devnull, encoding="utf-8") as stdin:  # all start at once
            return subprocess.Popen(command, cwd=tmp_path, env=env, stdin=stdin, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)

    intakes = [start([sys.executable, CLI, "intake", "--patient-id", f"TERMINAL-{n}", "--user", f"nurse-{n}"],
                     piped=True) for n in range(3)]
    batches = [start([sys.executable, CLI, "batch", str(path), "-o", str(tmp_path / f"out-{n}.jsonl"), "--save",
                      "--workers", "1", "--user", f"batch-{n}"]) for n, path in enumerate(inputs)]
    amenders = [start([sys.executable, "-c", AMENDER, str(first), "4"]) for _ in range(3)]
    finished = {process: process.communicate(timeout=600) for process in intakes + batches + amenders}
    for process, (out, err) in finished.items():
        assert process.returncode == 0, err

    with open_store(pg_url) as store:
        rows = store.worklist()
        # Each terminal intake recorded once, as version 1, with no draft left behind.
        terminal = [row for row in rows if (row.patient_id or "").startswith("TERMINAL-")]
        assert sorted((row.patient_id, row.version, row.draft_pending) for row in terminal) == \
            [(f"TERMINAL-{n}", 1, False) for n in range(3)]
        # Every valid backlog line recorded once (its source names the line), none twice.
        valid = sum(1 for n in range(2) for line in (tmp_path / f"out-{n}.jsonl").read_text().splitlines()
                    if '"error"' not in line)
        recorded, sources = store._db.execute(
            "SELECT count(*), count(DISTINCT source) FROM versions WHERE source LIKE 'batch:%'").fetchone()
        assert recorded == sources == valid > 0
        # The amenders: each success its own next version; every other attempt a conflict.
        results = [line.split() for process in amenders for line in finished[process][0].splitlines()]
        successes = sorted(int(version) for verdict, version in results if verdict == "ok")
        assert len(results) == 12 and successes == list(range(2, 2 + len(successes)))
        assert [v.version for v in store.history(1)] == list(range(1, 2 + len(successes)))
        assert len(rows) == 1 + 3 + valid
        report = store.verify_audit()
        assert report.ok, report.problems


# -- transport: a TCP store verifies the server's certificate (issue 27.7) -------------------------

@pytest.mark.parametrize("url", [
    "postgresql://app@127.0.0.1:9/triage", "postgresql://app@db.example/triage?sslmode=require",
    "postgresql://app@db.example/triage?sslmode=prefer", "postgresql:///triage?host=db.example&sslmode=disable",
    "postgresql://app@/triage?hostaddr=127.0.0.1",
])
def test_a_tcp_store_without_a_verified_certificate_is_refused(url, monkeypatch):
    monkeypatch.delenv("TRIAGE_INSECURE_TRANSPORT", raising=False)
    run = run_cli("list", "--db", url)
    assert run.code == 5 and "must verify the server's certificate: add sslmode=verify-full" in run.err, run.err


@pytest.mark.parametrize("url", ["postgresql://app@127.0.0.1:9/triage?sslmode=verify-full",
                                 "postgresql://app@127.0.0.1:9/triage?sslmode=verify-ca"])
def test_a_tcp_store_with_a_verified_certificate_is_tried(url, monkeypatch):
    monkeypatch.delenv("TRIAGE_INSECURE_TRANSPORT", raising=False)
    run = run_cli("list", "--db", url)  # nothing listens on port 9: the connection itself fails
    assert run.code == 5 and "cannot connect to the PostgreSQL server" in run.err, run.err


def test_insecure_transport_is_allowed_when_asked_and_said_at_every_start(monkeypatch, caplog):
    from triage.records.store.postgresql import _warned

    monkeypatch.setenv("TRIAGE_INSECURE_TRANSPORT", "0")  # the option sets it to 1; put back after the test
    _warned.clear()
    run = run_cli("list", "--db", "postgresql://app@127.0.0.1:9/triage", "--insecure-transport")
    assert run.code == 5 and "cannot connect to the PostgreSQL server" in run.err, run.err
    assert "reached over TCP without a verified TLS certificate (sslmode=prefer)" in caplog.text
    import os

    assert os.environ.get("TRIAGE_INSECURE_TRANSPORT") == "1"  # what serve's processes inherit


def test_the_unix_socket_of_the_tests_needs_no_tls(pg_url):
    assert "sslmode" not in pg_url and run_cli("list", "--db", pg_url).code == 0


# -- accounts: the application role cannot say who signs in, or as what (issue 27.7) ---------------

def _refused(raw, statement: str) -> bool:
    """Try a statement and undo it whatever happens (a try must not change what the next one meets)."""
    raw.execute("BEGIN")
    try:
        raw.execute(statement)
    except Exception as error:  # psycopg's InsufficientPrivilege, or the append-only trigger
        assert type(error).__name__ in ("InsufficientPrivilege", "RaiseException"), (statement, error)
        return True
    finally:
        raw.execute("ROLLBACK")
    return False


# What the application role may change or remove, table by table; everything else is refused.
APP_MAY = {("drafts", "UPDATE"), ("drafts", "DELETE"), ("worklist", "UPDATE"), ("worklist", "DELETE"),
           ("worklist_items", "UPDATE"), ("worklist_items", "DELETE"), ("audit_head", "UPDATE"),
           # the worklist's counts (derived, recounted by audit verify) and the access log's head.
           ("worklist_counts", "UPDATE"), ("worklist_counts", "DELETE"), ("access_head", "UPDATE"),
           # Short-lived state the web processes share, never a record: sessions, CDS Hooks token uses,
           # rate-limit counters, known devices; and recovery codes (marked used; audited by verify).
           *((table, verb) for table in ("sessions", "token_uses", "rate_limits", "known_devices", "recovery_codes")
             for verb in ("UPDATE", "DELETE"))}


def test_the_application_role_tried_against_every_table(roles):
    app_url, admin_url = roles
    with open_store(admin_url) as store:  # accounts are the admin role's
        store.add_user("coord1", "coordinator", "hash-1", by="admin")
        store.add_user("clin2", "clinician", "hash-2", by="admin")
        store.update_user("clin2", by="admin", disabled=True, action="user_disabled")
    with open_store(app_url) as store:  # what the clinics' machines do, all of it allowed
        store.save_draft({"patient_id": "P-2"}, user="nurse")
        store.record_assessment({"patient_id": "P-1", "red_flag_major_trauma": "yes"}, RESULT, user="nurse")
        store.create_invite("c" * 64, expires_at="2099-01-01T00:00:00Z", user="nurse", intake_id=1)
        store.acknowledge_alerts(2, user="dr-who")
        store.record_assessment({"patient_id": "P-3"}, {**RESULT, "status": "records_needed", "red_flags": [],
                                                        "missing_items": [{"id": "current_mri"}]}, user="nurse")
        store.request_record(3, "current_mri", source="City Imaging", via="portal", by="nurse")
        store.record_unobtainable(3, "current_mri", reason="closed", by="nurse")  # closes it: its own columns
        store.update_user("coord1", by="coord1", password_hash="rehashed", action="password_rehashed")  # narrow path
        store.set_alert_sound("coord1", True)  # a member's own preference: one column
        assert store.get_user("coord1").alert_sound is True
        with pytest.raises(StoreError, match="may not"):
            store.add_user("mallory", "clinician", "hash", by="mallory")
        with pytest.raises(StoreError, match="may not"):
            store.update_user("clin2", by="mallory", disabled=False, action="user_disabled")
    missed = []
    with Raw(app_url) as raw:
        for table in raw.tables():
            column = raw.columns(table)[0]
            for verb, statement in (("UPDATE", f'UPDATE {table} SET "{column}" = "{column}"'),
                                    ("DELETE", f"DELETE FROM {table}"), ("TRUNCATE", f"TRUNCATE {table} CASCADE")):
                if _refused(raw, statement) != ((table, verb) not in APP_MAY):
                    missed.append((table, verb))
        for statement in ("UPDATE users SET role = 'clinician' WHERE name = 'coord1'",
                          "UPDATE users SET disabled = 0 WHERE name = 'clin2'",
                          "UPDATE users SET password_hash = 'known' WHERE name = 'coord1'",
                          "INSERT INTO users VALUES ('mallory', 'clinician', 'h', 0, 'x', 'x', 'x')",
                          "UPDATE alerts SET urgency = 'soon'", "UPDATE alerts SET question = 'x'",
                          "UPDATE invites SET intake_id = 1", "UPDATE triage_store SET schema_version = 1",
                          "UPDATE record_requests SET source = 'x'", "UPDATE record_requests SET intake_id = 1"):
            if not _refused(raw, statement):
                missed.append(statement)
    assert not missed, missed
    with Raw(admin_url) as raw:  # the admin role manages accounts, but never audit rows or versions
        assert not _refused(raw, "UPDATE users SET role = role")
        assert _refused(raw, "DELETE FROM users") and _refused(raw, "UPDATE audit SET detail = detail")
    assert run_cli("audit", "verify", "--db", app_url).code == 0


def test_the_web_changes_its_own_account_as_the_application_role(roles):
    """What the staff pages do to the signed-in member's own account, as the role they connect as:
    set up a second factor, use a code, change their own password (which ends their other sessions
    and keeps the one asking). Each goes through a narrow function, never a column grant."""
    from triage.records.store import PASSWORD_CHANGED, WebSession

    app_url, admin_url = roles
    with open_store(admin_url) as store:
        store.add_user("coord1", "coordinator", "hash-1", by="admin")
    with open_store(app_url) as store:
        assert store.enroll_second_factor("coord1", "JBSWY3DPEHPK3PXP", 100, ["r" * 64])
        assert not store.enroll_second_factor("coord1", "ANOTHERSECRET234", 101, [])  # only while it has none
        assert store.second_factor("coord1") == ("JBSWY3DPEHPK3PXP", 100)
        assert store.use_totp_step("coord1", 101) and not store.use_totp_step("coord1", 101)
        for ident in ("a" * 64, "b" * 64):
            store.create_session(WebSession(ident, "staff", "coord1", None, 0, "csrf", {}, 1.0, 1.0, 9e9, "d", "a"))
        store.update_user("coord1", by="coord1", password_hash="hash-2", action=PASSWORD_CHANGED, keep_session="a" * 64)
        assert [s.id_sha256 for s in store.user_sessions("coord1")] == ["a" * 64]
        kept = store.get_session("a" * 64)
        assert kept.generation == kept.account_generation == 1
    with Raw(app_url) as raw:  # and no more than that
        assert _refused(raw, "UPDATE users SET totp_secret = NULL")
        assert _refused(raw, "UPDATE users SET session_generation = 0")
    assert run_cli("audit", "verify", "--db", app_url).code == 0


def test_the_narrow_password_path_changes_only_a_hash_still_current(roles):
    app_url, admin_url = roles
    with open_store(admin_url) as store:
        store.add_user("coord1", "coordinator", "hash-1", by="admin")
    with Raw(app_url) as raw:
        assert raw.execute("SELECT triage_replace_password('coord1', 'not-the-hash', 'known', 'x')").fetchone()[0] is None
        assert raw.execute("SELECT role, password_hash FROM users").fetchone() == ("coordinator", "hash-1")
        raw.execute("SELECT triage_replace_password('coord1', 'hash-1', 'known', 'x')")  # unaudited, by hand:
    verified = run_cli("audit", "verify", "--db", app_url)
    assert verified.code == 7 and "staff account coord1: its role, status, password" in verified.err


def test_every_table_has_its_privileges():
    """A table added by a migration needs its line in PRIVILEGES, or the application role cannot use it."""
    import re

    from triage.records import store as store_module
    from triage.records.store import postgresql as store_postgresql

    created = set(re.findall(r"CREATE TABLE (\w+)", store_postgresql.SCHEMA + "".join(
        store_postgresql.MIGRATIONS.values()) + "".join(store_module.MIGRATIONS)))
    rebuilt = {"alerts_12"}  # SQLite's way to change a constraint: a new table renamed to the old name
    assert created - {"triage_store"} - rebuilt <= set(store_postgresql.PRIVILEGES), created - set(store_postgresql.PRIVILEGES)
