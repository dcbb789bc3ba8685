"""The service's configuration (docs/operations.md): one TOML file, environment variables and options
(command line over environment over file over defaults), `triage serve --check-config`, every store
command reading the same configured store (and warning when another one is opened), and `triage
invite` refusing links a patient's phone cannot open."""

from __future__ import annotations

import re

import pytest

from conftest import run_cli
from triage.channels.cli.common import ExitCode
from triage.records.store import open_store

KEYS = ("db", "settings", "base_url", "host", "port", "threads", "trusted_proxies", "allowed_hosts", "log_format",
        "kiosk", "metrics", "metrics_host", "metrics_port")
ENV = [f"TRIAGE_{key.upper()}" for key in KEYS] + ["TRIAGE_CONFIG"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No TRIAGE_* setting of the machine running the tests, and no system file, leaks in."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    try:
        from triage.channels import config
    except ImportError:  # (a version without a configuration file: the tests fail on what they check)
        return
    monkeypatch.setattr(config, "SYSTEM_CONFIG", tmp_path / "no-system-file.toml")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "per-user"))


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def shown(out: str) -> dict[str, tuple[str, str]]:
    """--check-config's rows: key -> (value, source)."""
    return {m.group(1): (m.group(2).strip(), m.group(3)) for m in
            re.finditer(r"^  (\w+)\s+(.*?)\s+\(([^()]*)\)$", out, re.M)}


# --- --check-config and precedence ------------------------------------------------------------------

def test_check_config_shows_each_value_and_where_it_came_from(tmp_path, monkeypatch):
    conf = write(tmp_path / "triage.toml", '[serve]\ndb = "data/triage.db"\nport = 9000\nthreads = 4\n'
                 'host = "0.0.0.0"\nbase_url = "https://intake.clinic.example/"\nlog_format = "json"\n')
    monkeypatch.setenv("TRIAGE_PORT", "9100")
    monkeypatch.setenv("TRIAGE_THREADS", "6")
    run = run_cli("serve", "--config", str(conf), "--check-config", "--threads", "2")
    assert run.code == ExitCode.OK, run.err
    rows = shown(run.out)
    assert rows["threads"] == ("2", "--threads")  # command line over environment
    assert rows["port"] == ("9100", "TRIAGE_PORT")  # environment over file
    assert rows["host"] == ("0.0.0.0", str(conf))  # file over default
    assert rows["db"] == (str(tmp_path / "data" / "triage.db"), str(conf))  # relative to the file's folder
    assert rows["base_url"] == ("https://intake.clinic.example", str(conf))
    assert rows["log_format"] == ("json", str(conf))
    assert rows["metrics"] == ("off", "default")
    assert set(rows) == set(KEYS)
    assert run.out.startswith(f"configuration file: {conf} (--config)\n")
    assert run.out.endswith("ok: the configuration is usable; the settings load; the store will be created on first start\n")
    assert not (tmp_path / "data").exists()  # checking creates nothing


def test_check_config_masks_the_database_password(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIAGE_DB", "postgresql://triage:s3cret-pw@127.0.0.1:1/triage")
    run = run_cli("serve", "--check-config")
    assert "s3cret-pw" not in run.out + run.err
    assert shown(run.out)["db"] == ("postgresql://triage:****@127.0.0.1:1/triage", "TRIAGE_DB")


def test_the_config_file_comes_from_triage_config_then_the_system_file(tmp_path, monkeypatch):
    system = write(tmp_path / "system.toml", "[serve]\nport = 8001\n")
    monkeypatch.setattr("triage.channels.config.SYSTEM_CONFIG", system)
    assert shown(run_cli("serve", "--check-config").out)["port"] == ("8001", str(system))
    named = write(tmp_path / "named.toml", "[serve]\nport = 8002\n")
    monkeypatch.setenv("TRIAGE_CONFIG", str(named))
    assert shown(run_cli("serve", "--check-config").out)["port"] == ("8002", str(named))
    other = write(tmp_path / "other.toml", "[serve]\nport = 8003\n")
    assert shown(run_cli("serve", "--check-config", "--config", str(other)).out)["port"] == ("8003", str(other))


@pytest.mark.parametrize("text, fragment", [
    ("[serve\n", "not valid TOML"),
    ("port = 1\n", "unknown table or key 'port' (the keys go under [serve])"),
    ("[serve]\nprot = 8000\n", "unknown key 'prot' (did you mean 'port'?)"),
    ("[serve]\nport = 1\n[other]\n", "unknown table or key 'other'"),
])
def test_a_broken_file_exits_3_in_one_line_naming_it(tmp_path, text, fragment):
    conf = write(tmp_path / "t.toml", text)
    run = run_cli("serve", "--config", str(conf), "--check-config")
    assert run.code == ExitCode.DEFINITION
    assert run.err.count("\n") == 1 and str(conf) in run.err and fragment in run.err


def test_a_missing_named_file_exits_3(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIAGE_CONFIG", str(tmp_path / "nowhere.toml"))
    run = run_cli("serve", "--check-config")
    assert run.code == ExitCode.DEFINITION and "nowhere.toml" in run.err and "does not exist" in run.err


@pytest.mark.parametrize("where, key, good, bad, message", [
    ("file", "port", "65535", "65536", "must be a whole number from 0 to 65535"),
    ("env", "port", "0", "-1", "must be a whole number from 0 to 65535"),
    ("env", "threads", "64", "65", "must be a whole number from 1 to 64"),
    ("cli", "threads", "1", "0", "number of threads"),
    ("env", "log_format", "json", "yaml", "must be one of: text, json"),
    ("file", "base_url", '"https://a.example"', '"http://a.example"', "must start with https://"),
    ("env", "base_url", "http://127.0.0.1:8765", "ftp://a.example", "must be the address patients open"),
    ("env", "base_url", "https://a.example/", "https://a.example/triage", "must be the scheme and host name only"),
    ("env", "trusted_proxies", "10.0.0.0/24,::1", "10.0.0.300", "is not an address or network"),
    ("file", "trusted_proxies", "2", "0", "must be a whole number from 1 to 10"),
    ("env", "allowed_hosts", "intake.example,10.1.2.3", "https://intake.example", "is not a host name"),
    ("env", "metrics", "on", "maybe", "must be on or off"),
])
def test_a_bad_value_exits_2_naming_its_key_and_where_it_came_from(tmp_path, monkeypatch, where, key, good, bad,
                                                                   message):
    def check(value: str):
        args = ["serve", "--check-config", "--db", str(tmp_path / "t.db")]
        if where == "file":
            args += ["--config", str(write(tmp_path / "t.toml", f"[serve]\n{key} = {value}\n"))]
        elif where == "env":
            monkeypatch.setenv(f"TRIAGE_{key.upper()}", value)
        else:
            args += [f"--{key.replace('_', '-')}", value]
        return run_cli(*args)

    assert check(good).code == ExitCode.OK
    run = check(bad)
    assert run.code == ExitCode.INVALID and run.err.count("\n") == 1 and message in run.err
    named = {"file": f"{key} in {tmp_path / 't.toml'}", "env": f"TRIAGE_{key.upper()}",
             "cli": f"--{key.replace('_', '-')}"}[where]
    assert named in run.err


def test_check_config_refuses_a_broken_settings_file_and_an_unusable_store(tmp_path):
    settings = write(tmp_path / "s.toml", "patient_idle_minutes = 0\n")
    conf = write(tmp_path / "t.toml", f'[serve]\nsettings = "{settings}"\n')
    run = run_cli("serve", "--config", str(conf), "--check-config", "--db", str(tmp_path / "t.db"))
    assert run.code == ExitCode.DEFINITION and "patient_idle_minutes" in run.err
    foreign = tmp_path / "foreign.db"
    foreign.write_bytes(b"not a database at all" * 100)
    run = run_cli("serve", "--check-config", "--db", str(foreign))
    assert run.code == ExitCode.STORE


def test_metrics_cannot_share_the_pages_port(tmp_path):
    run = run_cli("serve", "--check-config", "--db", str(tmp_path / "t.db"), "--port", "9000", "--metrics", "on",
                  "--metrics-port", "9000")
    assert run.code == ExitCode.INVALID and "metrics_port (--metrics-port): is the port of the pages" in run.err


# --- one store for the service and the coordinators --------------------------------------------------

def test_store_commands_use_the_configured_store_and_warn_when_another_is_opened(tmp_path, monkeypatch):
    before = run_cli("list", "--db", str(tmp_path / "t.db"))  # without a configuration file: no warning
    assert before.code == ExitCode.OK and before.err == ""
    (tmp_path / "etc").mkdir()
    conf = write(tmp_path / "etc" / "triage.toml",
                 '[serve]\ndb = "../var/triage.db"\nbase_url = "https://intake.clinic.example"\n')
    monkeypatch.setenv("TRIAGE_CONFIG", str(conf))
    configured = tmp_path / "var" / "triage.db"
    run = run_cli("invite", "--patient-id", "P-1")
    assert run.code == ExitCode.OK, run.err
    assert "warning" not in run.err
    with open_store(configured) as store:
        assert store.load_draft(1).answers == {"patient_id": "P-1"}
    listed = run_cli("list", "--format", "json")
    assert listed.code == ExitCode.OK and "warning" not in listed.err
    assert [(row["intake_id"], row["patient_id"]) for row in listed.json["intakes"]] == [(1, "P-1")]

    other = tmp_path / "other.db"
    run = run_cli("list", "--db", str(other))
    assert run.code == ExitCode.OK
    assert (f"warning: this store ({other}, from --db) is not the one configured for the service "
            f"({configured}, in {conf})") in run.err
    monkeypatch.setenv("TRIAGE_DB", str(other))
    assert "from TRIAGE_DB) is not the one configured" in run_cli("list").err
    monkeypatch.setenv("TRIAGE_DB", str(configured))
    assert "warning" not in run_cli("list").err  # the same store, named another way: no warning

    # The service started with another configuration file says so too, naming where its store came from.
    own = write(tmp_path / "own.toml", f'[serve]\ndb = "{other}"\n')
    monkeypatch.delenv("TRIAGE_DB")
    run = run_cli("serve", "--config", str(own), "--check-config")
    assert run.code == ExitCode.OK
    assert run.err == (f"warning: the service's store ({other}, from {own}) is not the one the other triage "
                       f"commands open ({configured}, in {conf})\n")


# --- invitation links -----------------------------------------------------------------------------

def test_invite_uses_the_configured_base_url(tmp_path, monkeypatch):
    conf = write(tmp_path / "t.toml", '[serve]\nbase_url = "https://intake.clinic.example"\n')
    monkeypatch.setenv("TRIAGE_CONFIG", str(conf))
    run = run_cli("invite", "--db", str(tmp_path / "t.db"))
    assert run.code == ExitCode.OK, run.err
    assert re.search(r"^link: https://intake\.clinic\.example/intake/code/\S+$", run.out, re.M)


def test_invite_refuses_a_loopback_link_when_a_base_url_is_configured(tmp_path, monkeypatch):
    db = tmp_path / "t.db"
    monkeypatch.setenv("TRIAGE_BASE_URL", "https://intake.clinic.example")
    run = run_cli("invite", "--db", str(db), "--base-url", "http://127.0.0.1:8765")
    assert run.code == ExitCode.INVALID and run.out == "" and run.err.count("\n") == 1
    assert "--base-url: is a loopback address" in run.err and "leave --base-url out" in run.err
    assert not db.exists()  # nothing was stored for a link nobody could open
    # A base URL on loopback, configured on purpose for a server on loopback (a trial, a test of the TLS
    # front): used; the same with the server on another address: refused.
    monkeypatch.setenv("TRIAGE_BASE_URL", "https://localhost:8443")
    run = run_cli("invite", "--db", str(db))
    assert run.code == ExitCode.OK and "link: https://localhost:8443/intake/code/" in run.out
    monkeypatch.setenv("TRIAGE_HOST", "0.0.0.0")
    run = run_cli("invite", "--db", str(tmp_path / "other.db"))
    assert run.code == ExitCode.INVALID and run.err.count("\n") == 1
    assert "is a loopback address, which no patient's phone can open, and the server listens on 0.0.0.0" in run.err
    assert "set base_url under [serve]" in run.err and not (tmp_path / "other.db").exists()


def test_invite_refuses_a_loopback_link_when_the_server_is_not_on_loopback(tmp_path, monkeypatch):
    trial = run_cli("invite", "--db", str(tmp_path / "trial.db"))  # a trial on this machine: loopback is fine
    assert trial.code == ExitCode.OK and "link: http://127.0.0.1:8765/intake/code/" in trial.out
    db = tmp_path / "t.db"
    conf = write(tmp_path / "t.toml", '[serve]\nhost = "0.0.0.0"\n')
    monkeypatch.setenv("TRIAGE_CONFIG", str(conf))
    run = run_cli("invite", "--db", str(db))
    assert run.code == ExitCode.INVALID and run.out == "" and run.err.count("\n") == 1
    assert f"the server listens on 0.0.0.0 (from {conf}), not on loopback" in run.err
    assert "TRIAGE_BASE_URL" in run.err and not db.exists()
    run = run_cli("invite", "--db", str(db), "--base-url", "https://intake.clinic.example")
    assert run.code == ExitCode.OK and "link: https://intake.clinic.example/intake/code/" in run.out


def test_a_store_url_differing_only_by_its_password_is_the_same_store():
    from triage.channels.config import same_store

    assert same_store("postgresql://triage:pw@db.clinic/triage", "postgresql://triage@db.clinic/triage")
    assert not same_store("postgresql://triage:pw@db.clinic/triage", "postgresql://triage@db.clinic/other")
    assert not same_store("postgresql://triage@db.clinic/triage", "/var/lib/fbss-triage/triage.db")


# --- an account that may not look into the service's folders ---------------------------------------

def locked(monkeypatch, *paths):
    """``paths`` behave as under a folder this account may not enter (root, running the tests, may
    enter every folder: the permission error is what another account gets)."""
    from pathlib import Path

    real = Path.stat

    def stat(self, *args, **kwargs):  # what exists(), is_file() and the rest ask the system
        if self in paths:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)


def test_a_service_configuration_this_account_may_not_read_is_one_line_exit_3(tmp_path, monkeypatch):
    from triage.channels import config

    system = tmp_path / "etc-fbss-triage" / "triage.toml"
    monkeypatch.setattr(config, "SYSTEM_CONFIG", system)
    locked(monkeypatch, system)
    for args in (("list",), ("serve", "--check-config")):
        run = run_cli(*args)
        assert (run.code, run.out) == (ExitCode.DEFINITION, ""), run.err
        assert run.err == (f"error: triage {args[0]}: definition: {system}: configuration file (the system file) cannot be read by "
                           "this account (permission denied); run triage as the service's account (sudo fbss-triage "
                           "..., see docs/deployment.md) or ask for read access\n")


def test_a_store_this_account_may_not_open_is_one_line_exit_5(tmp_path, monkeypatch):
    store = tmp_path / "var-lib-fbss-triage" / "triage.db"
    locked(monkeypatch, store)
    for args in (("list",), ("users", "list"), ("serve", "--check-config")):
        run = run_cli(*args, "--db", str(store))
        assert run.code == ExitCode.STORE and (run.out == "" or args[0] == "serve"), run.err  # (check-config: the table)
        assert run.err.endswith(f"{store}: this account may not open it (permission denied); run triage as the account "
                                "that owns the store\n"), run.err
        assert run.err.count("\n") == 1 and "internal" not in run.err


# --- the audit key file in --check-config ------------------------------------------------------------

def test_check_config_says_whether_audit_rows_will_be_signed(tmp_path, monkeypatch):
    from triage.records.store.audit import key_id

    run = run_cli("serve", "--check-config", "--db", str(tmp_path / "t.db"))
    assert run.code == 0 and ("audit key file: none (TRIAGE_AUDIT_KEY_FILE is not set): audit rows are not signed "
                              "(see docs/security.md)\n") in run.out
    keys = [bytes(range(32)), bytes(range(1, 33))]
    key_file = write(tmp_path / "audit.key", "".join(k.hex() + "\n" for k in keys))
    key_file.chmod(0o600)
    monkeypatch.setenv("TRIAGE_AUDIT_KEY_FILE", str(key_file))
    run = run_cli("serve", "--check-config", "--db", str(tmp_path / "t.db"))
    assert run.code == 0 and (f"audit key file: {key_file} (TRIAGE_AUDIT_KEY_FILE): 2 keys, new rows signed with key "
                              f"{key_id(keys[1])}\n") in run.out
    key_file.chmod(0o640)  # others may read it: refused before anything is served
    run = run_cli("serve", "--check-config", "--db", str(tmp_path / "t.db"))
    assert run.code == ExitCode.STORE and run.err.endswith(
        f"{key_file}: the audit key file can be read by others; make it the owner's only (chmod 600) "
        "(TRIAGE_AUDIT_KEY_FILE)\n"), run.err
