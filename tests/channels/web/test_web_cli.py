"""`triage invite` and `triage serve`: what they print, what they refuse (one line, the documented exit
code), and a real server started as a user would, answering GET /healthz, stopped with Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT, run_cli
from support.cli import installed_env
from triage.records import invites
from triage.channels.cli.common import ExitCode
from triage.records.store import open_store


def test_invite_prints_a_code_and_its_link_and_keeps_only_a_hash(tmp_path):
    db = tmp_path / "t.db"
    run = run_cli("invite", "--db", str(db), "--patient-id", "P-77", "--base-url", "https://clinic.example/")
    assert run.code == 0, run.err
    code = re.search(r"^code: (\S+)$", run.out, re.M).group(1)
    assert invites.normalise(code) == code
    assert f"link: https://clinic.example/intake/code/{code}\n" in run.out
    assert re.match(r"intake 1: the code works until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", run.err)
    with open_store(db) as store:
        invite = store.find_invite(invites.code_hash(code))
        assert invite is not None and invite.intake_id == 1 and not invite.submitted
        assert store.load_draft(1).answers == {"patient_id": "P-77"}
    assert code.encode() not in db.read_bytes()


def test_invite_expiry_follows_the_option(tmp_path):
    db = tmp_path / "t.db"
    run = run_cli("invite", "--db", str(db), "--expires-days", "1")
    code = re.search(r"^code: (\S+)$", run.out, re.M).group(1)
    with open_store(db) as store:
        invite = store.find_invite(invites.code_hash(code))
    assert invite.expires_at > invite.created_at
    assert invite.expires_at[:10] != invite.created_at[:10]


@pytest.mark.parametrize("args, fragment", [
    (["--expires-days", "0"], "--expires-days"),
    (["--expires-days", "x"], "--expires-days"),
    (["--patient-id", "bad\x07ref"], "patient_id: contains a control character"),
])
def test_invite_refuses_bad_options_in_one_line(tmp_path, args, fragment):
    run = run_cli("invite", "--db", str(tmp_path / "t.db"), *args)
    assert run.code == ExitCode.INVALID
    assert fragment in run.err and run.err.count("\n") == 1 and run.out == ""


def test_codes_have_at_least_40_bits_and_no_look_alikes():
    assert invites.BITS >= 40
    assert not set("0O1IL") & set(invites.ALPHABET)
    codes = {invites.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(re.fullmatch(r"[2-9A-Z]{5}-[2-9A-Z]{5}", code) for code in codes)


def test_the_web_entry_point_uses_the_one_exit_code_table():
    from triage.channels.web import __main__ as web_main

    assert web_main.EXIT_INVALID == ExitCode.INVALID and web_main.EXIT_DEFINITION == ExitCode.DEFINITION
    assert web_main.EXIT_STORE == ExitCode.STORE and web_main.EXIT_INTERNAL == ExitCode.INTERNAL
    assert web_main.EXIT_INTERRUPTED == ExitCode.INTERRUPTED


def test_serve_refuses_a_broken_settings_file_and_an_unusable_store(tmp_path):
    settings = tmp_path / "s.toml"
    settings.write_text("patient_idle_minutes = 0\n")
    run = run_cli("serve", "--db", str(tmp_path / "t.db"), "--settings", str(settings), "--port", "0")
    assert run.code == ExitCode.DEFINITION and "patient_idle_minutes" in run.err
    foreign = tmp_path / "foreign.db"
    foreign.write_bytes(b"not a database at all" * 100)
    run = run_cli("serve", "--db", str(foreign), "--port", "0")
    assert run.code == ExitCode.STORE and run.err.count("\n") == 1


def test_serve_refuses_an_address_in_use(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        run = run_cli("serve", "--db", str(tmp_path / "t.db"), "--port", str(taken.getsockname()[1]))
    finally:
        taken.close()
    assert run.code == ExitCode.INVALID
    assert "cannot listen on 127.0.0.1:" in run.err and run.err.count("\n") == 1


def test_serve_runs_a_server_until_ctrl_c(tmp_path):
    db = tmp_path / "t.db"
    env = installed_env()
    server = subprocess.Popen([sys.executable, "-m", "triage", "serve", "--db", str(db), "--port", "0"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = server.stderr.readline()
        url = re.search(r"serving on (http://127\.0\.0\.1:\d+)/intake/", first).group(1)
        deadline = time.monotonic() + 60
        while True:  # the socket listens before the hand-over; the answer comes once the app is built
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=30) as response:
                    assert response.status == 200 and response.read() == b"ok\n"
                    assert response.headers["Server"] in (None, "")
                break
            except OSError:
                assert time.monotonic() < deadline, "the server never answered"
        with urllib.request.urlopen(url + "/intake/", timeout=30) as response:
            assert b"Answer questions before your visit" in response.read()
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=60)
    assert server.returncode == ExitCode.INTERRUPTED
    assert "GET /healthz 200" in err and "Traceback" not in err
