"""What a clinic installs, tried as a clinic would: the wheel, built from a clean copy of the sources,
installed into a new virtual environment (its dependencies are the suite's, reached through a .pth
file, so no network is needed; the package itself comes only from the wheel), and every channel run
from a folder that has nothing to do with the checkout: the terminal (assess, a piped intake, batch,
the store's commands, exports, records, accounts, invitations, backup and restore) and the web
server (patient and staff pages, readiness, CDS Hooks with a fake EHR's signed call)."""

from __future__ import annotations

import json
import re
import shutil
import signal
import site
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT
from support.cli import installed_env
from support.packaging import build_wheel

PASSWORD = "a long enough password 42"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    """A new virtual environment holding the built wheel; returns its bin folder."""
    folder = tmp_path_factory.mktemp("fresh-install")
    wheel = build_wheel(folder)
    venv = folder / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "--no-index", str(wheel)],
                               capture_output=True, text=True, timeout=300, cwd=folder)
    assert installed.returncode == 0, installed.stderr
    # Then (pip would find the suite's copy installed already): after the venv's own site-packages, the
    # suite's for the dependencies; its triage is shadowed by the wheel's (the first test checks).
    (packages,) = (venv / "lib").glob("python3.*/site-packages")
    (packages / "suite-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv / "bin"


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    folder = tmp_path / "a-clinic-folder"
    folder.mkdir()
    for name in ("adjacent-tear.json", "red-flag.json", "records-missing.json"):
        shutil.copy(ROOT / "examples" / name, folder / name)
    return folder


def environment(folder: Path) -> dict[str, str]:
    none = folder / "no-service.toml"  # this machine's own service configuration, if any, is not this test's
    none.write_text("")
    env = installed_env(TRIAGE_DB=str(folder / "store" / "triage.db"), XDG_DATA_HOME=str(folder / "per-user"),
                        TRIAGE_CONFIG=str(none))
    for name in ("TRIAGE_SETTINGS", "TRIAGE_BASE_URL", "TRIAGE_CDS_HOOKS"):
        env.pop(name, None)
    return env


def test_the_package_comes_from_the_wheel_in_the_new_environment(fresh, elsewhere):
    where = subprocess.run([str(fresh / "python"), "-c", "import triage; print(triage.__file__)"], cwd=elsewhere,
                           env=environment(elsewhere), capture_output=True, text=True, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(fresh.parent), where.stdout + where.stderr


def test_every_terminal_channel_from_an_unrelated_folder(fresh, elsewhere):
    env = environment(elsewhere)

    def triage(*args: str, stdin: str | None = None, code: int = 0) -> str:
        done = subprocess.run([str(fresh / "triage"), *args], cwd=elsewhere, env=env, input=stdin,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == code, (args, done.stdout[-1500:], done.stderr[-1500:])
        assert "Traceback" not in done.stderr
        return done.stdout

    assert "ruleset fbss-triage" in triage("--version")
    assert "RF-01" in triage("rules")
    assert json.loads(triage("questions", "-f", "fhir", "--lang", "es", "--audience", "patient"))["resourceType"] \
        == "Questionnaire"
    assert "URGENT" in triage("assess", "red-flag.json", "--save")
    assert json.loads(triage("assess", "adjacent-tear.json", "-f", "json"))["status"] == "ready_for_evaluation"
    # A coordinator's intake, typed (here piped) one answer a line; saved in the store at the end.
    typed = "\n3/2024\nL4-5 L5-S1\ny\nn\n3\n2 3\n1\n7\nu\nn\n" + "n\n" * 11 + "\n"
    assert "Decision steps" in triage("intake", "--mode", "coordinator", "--patient-id", "P-77", stdin=typed)
    # A patient's intake in Spanish, to its patient-safe end.
    said = triage("intake", "--mode", "patient", "--lang", "es", "-o", "es.json",
                  stdin="3/2024\nL4-5 L5-S1\n1\n2\n3\n2 3\n1\n7\n" + "2\n" * 13 + "\n")
    assert "Por favor, traiga esto a su cita" in said and json.loads((elsewhere / "es.json").read_text())["mri_available"] == "no"
    lines = "".join(json.dumps(json.loads((elsewhere / n).read_text())) + "\n"
                    for n in ("adjacent-tear.json", "records-missing.json"))
    (elsewhere / "in.jsonl").write_text(lines)
    triage("batch", "in.jsonl", "-o", "out.jsonl", "--save")
    assert len((elsewhere / "out.jsonl").read_text().splitlines()) == 2
    listing = triage("list")
    assert "EXAMPLE-002" in listing and "P-77" in listing
    assert "OPEN RED-FLAG ALERT" in triage("show", "1")
    for kind in ("json", "markdown", "html", "fhir"):
        triage("export", "1", "--format", kind, "-o", f"one.{kind}")
        assert (elsewhere / f"one.{kind}").stat().st_size > 1000
    assert "<html" in (elsewhere / "one.html").read_text()
    triage("records", "request", "1", "current_mri", "--from", "Imaging centre")
    assert "current_mri" in triage("records", "list")
    triage("users", "add", "cora", "--role", "coordinator", "--password-stdin", stdin=PASSWORD + "\n")
    assert "cora" in triage("users", "list")
    assert re.search(r"^link: http://127\.0\.0\.1:8765/intake/code/\S+$", triage("invite", "--patient-id", "P-9"), re.M)
    head = re.search(r"^head: (\w+)$", triage("audit", "verify"), re.M).group(1)
    backup = triage("db", "backup", "copy.db")
    assert f"head: {head}" in backup
    triage("db", "restore", "copy.db", "--db", "restored.db")
    assert f"head: {head}" in triage("audit", "verify", "--db", "restored.db")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_web_server_from_an_unrelated_folder(fresh, elsewhere):
    env = environment(elsewhere)
    port = free_port()
    ehr_folder = elsewhere / "ehr"
    made = subprocess.run([sys.executable, str(ROOT / "tools" / "fake_ehr.py"), "setup", str(ehr_folder), "--base-url",
                           f"http://127.0.0.1:{port}"], capture_output=True, text=True, timeout=120, cwd=elsewhere)
    assert made.returncode == 0, made.stderr
    invited = subprocess.run([str(fresh / "triage"), "invite", "--patient-id", "P-W1", "--base-url",
                              f"http://127.0.0.1:{port}"], cwd=elsewhere, env=env,
                             capture_output=True, text=True, timeout=120)
    link = re.search(r"^link: (\S+)$", invited.stdout, re.M).group(1)
    server = subprocess.Popen([str(fresh / "triage"), "serve", "--port", str(port)], cwd=elsewhere,
                              env={**env, "TRIAGE_CDS_HOOKS": str(ehr_folder / "cds-hooks.toml")}, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert re.search(r"serving on http://127\.0\.0\.1:\d+/intake/", server.stderr.readline())
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):  # the socket listens before the app is built: wait for its first answer
            try:
                status, body = fetch(f"{base}/readyz")
                break
            except OSError:
                server.poll() is None or pytest.fail(server.stderr.read())
        assert (status, body) == (200, "ready\n")
        status, page = fetch(link)  # the patient's invitation (templates, static files, translations)
        assert status == 200 and "/static/style.css" in page
        assert fetch(f"{base}/static/style.css")[0] == 200
        status, page = fetch(f"{base}/staff/sign-in")  # the staff templates, once missing from the wheel
        assert status == 200 and 'name="password"' in page
        assert fetch(f"{base}/cds-services")[0] == 401  # CDS Hooks: only for the EHR's signed calls

        def ehr(*args: str) -> str:
            done = subprocess.run([sys.executable, str(ROOT / "tools" / "fake_ehr.py"), *args, str(ehr_folder)],
                                  capture_output=True, text=True, timeout=120, cwd=elsewhere)
            assert done.returncode == 0 and done.stdout.startswith("HTTP 200"), done.stdout + done.stderr
            return done.stdout

        assert '"id": "fbss-preconsultation-summary"' in ehr("discovery")
        assert "EMERGENCY" in ehr("call", "--status", "urgent").upper()
    finally:
        server.send_signal(signal.SIGTERM)
        _, log = server.communicate(timeout=60)
    assert server.returncode == 0 and "Traceback" not in log and log.endswith("stopped\n"), log[-2000:]
