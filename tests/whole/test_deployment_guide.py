"""docs/deployment.md, word for word: every command of its ``sh`` blocks runs here, in order, as one
``bash -euo pipefail`` script under a pseudo-terminal (the password prompts answered), in a scratch
folder that stands for the machine: the system paths the guide uses are moved under it, in the
commands and in the files they install, and its ports are free loopback ports. ``systemctl`` and
``journalctl`` are a stand-in (tests/support/systemd_standin.py) that starts the installed units'
``ExecStart`` with their environment files and Debian's nginx on the installed site, so the guide's
``curl`` lines fetch through the real nginx over https, by the clinic's name, from the real service.
The lines that need a package installation are listed in NOT_RUN with what checks them instead (the
guide's last table says the same; a test keeps the two in step). Needs root (as CI runs), nginx,
curl and systemd-analyze.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

import socket
import sys

import pytest

from conftest import ROOT
from support import systemd_standin
from support.cli import TRIAGE, installed_env

GUIDE = ROOT / "docs" / "deployment.md"
PASSWORD = "a long enough password 42"
NAME = "intake.your-clinic.example"
# System paths the guide touches, moved under the scratch folder.
MOVED = ("/opt/fbss-triage", "/etc/fbss-triage", "/etc/nginx", "/etc/ssl/fbss-triage", "/etc/systemd/system",
         "/var/lib/fbss-triage", "/var/backups/fbss-triage", "/var/log/nginx", "/usr/local/sbin", "/run/nginx.pid")
NOT_RUN = {
    "apt-get update": "CI: .ci/run installs the packages",
    "apt-get install -y python3 python3-venv python3-dev gcc nginx curl": "CI: .ci/run installs the packages",
    "python3 -m venv /opt/fbss-triage/venv": "CI: the README's test command (a fresh venv)",
    "/opt/fbss-triage/venv/bin/pip install .": "CI: the README's test command (pip install of the project)",
    "/opt/fbss-triage/venv/bin/pip install --upgrade .": "CI: the README's test command",
}


def guide_commands() -> list[str]:
    """Every command line of the guide's ``sh`` blocks, in order (comments and blank lines left out)."""
    lines, inside = [], False
    for line in GUIDE.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```sh" if not inside else False
            continue
        if inside and line.strip() and not line.lstrip().startswith("#"):
            lines.append(line.strip())
    return lines


def move(text: str, sandbox: Path) -> str:
    """System paths under the sandbox; the service user is the test's user (root)."""
    pattern = r"(?<![\w/.-])(" + "|".join(re.escape(p) for p in MOVED) + r")(?=[/\s\"':;]|$)"
    text = re.sub(pattern, lambda m: f"{sandbox}{m.group(1)}", text, flags=re.M)
    return re.sub(r"(-[ogu]) fbss-triage(?![\w.-])", r"\1 root", text)  # the account, not the unit fbss-triage-backup


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Ports:
    """The guide's ports, moved to free loopback ports: the service's, nginx's http and https."""

    def __init__(self):
        self.app, self.http, self.https = free_port(), free_port(), free_port()

    def move(self, name: str, text: str) -> str:
        """The shipped file with its ports moved; every shipped port must be there (the test follows the file)."""
        if name == "nginx-fbss-triage.conf":
            pairs = [("    listen [::]:80;\n", ""), ("    listen [::]:443 ssl default_server;\n", ""),
                     ("    listen [::]:443 ssl http2;\n", ""), ("listen 80;", f"listen 127.0.0.1:{self.http};"),
                     ("listen 443 ssl default_server;", f"listen 127.0.0.1:{self.https} ssl default_server;"),
                     ("listen 443 ssl http2;", f"listen 127.0.0.1:{self.https} ssl http2;"),
                     ("server 127.0.0.1:8765;", f"server 127.0.0.1:{self.app};")]
        elif name == "fbss-triage.service":
            pairs = [("--port 8765", f"--port {self.app}")]
        else:
            return text
        for old, new in pairs:
            assert old in text, f"the shipped {name} no longer has {old!r}: update the test with it"
            text = text.replace(old, new)
        return text


def in_sandbox(command: str, sandbox: Path, ports: Ports) -> str:
    if command.startswith("curl ") and f"https://{NAME}/" in command:  # the clinic's name, on the moved port
        command = command.replace(f"https://{NAME}/", f"https://{NAME}:{ports.https}/")
        return command.replace("curl ", f"curl --cacert {sandbox}/project/fullchain.pem "
                                        f"--resolve {NAME}:{ports.https}:127.0.0.1 ", 1)
    if command in NOT_RUN:
        return f": not run here: {command!r}"
    if command.startswith("useradd "):  # the scratch folder's copy of /etc/passwd, never the machine's
        return command.replace("useradd ", f"useradd --prefix {sandbox} ", 1)  # (its paths are the account's)
    command = move(command, sandbox)
    if command == "nginx -t":  # a copy of Debian's /etc/nginx, paths moved
        command = (f"nginx -t -p {sandbox}/etc/nginx/ -c {sandbox}/etc/nginx/nginx.conf "
                   f"-e {sandbox}/var/log/nginx/error.log")
    return command


def make_certificate(folder: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False).sign(key, hashes.SHA256()))
    (folder / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "privkey.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))


def prepare(sandbox: Path, ports: Ports) -> Path:
    """The machine as Debian's packages leave it, under ``sandbox``; returns the project folder."""
    (sandbox / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow", "login.defs"):
        shutil.copy2(f"/etc/{name}", sandbox / "etc" / name)
        if name != "login.defs":  # a fresh machine: no service user yet (even where this one has it)
            copy = sandbox / "etc" / name
            copy.write_text("".join(line for line in copy.read_text().splitlines(keepends=True)
                                    if not line.startswith("fbss-triage:")))
    shutil.copytree("/etc/nginx", sandbox / "etc" / "nginx", symlinks=True,
                    ignore=lambda folder, names: [n for n in names if n == "fbss-triage"])  # as Debian leaves it
    conf = sandbox / "etc" / "nginx" / "nginx.conf"
    conf.write_text(move(conf.read_text(), sandbox))
    for folder in ("var/log/nginx", "usr/local/sbin", "usr/local/bin", "etc/systemd/system", "etc/ssl",
                   "opt/fbss-triage/venv/bin", "run", "var/cache"):
        (sandbox / folder).mkdir(parents=True, exist_ok=True)
    for tool in ("systemctl", "journalctl"):  # the stand-in, first on PATH
        stand_in = sandbox / "usr/local/bin" / tool
        stand_in.write_text(f"#!/bin/sh\nexec {sys.executable} {systemd_standin.__file__} {sandbox} {tool} \"$@\"\n")
        stand_in.chmod(0o755)
    (sandbox / "opt/fbss-triage/venv/bin/triage").symlink_to(TRIAGE[0])  # the suite's installed triage
    project = sandbox / "project"
    for folder in ("deploy", "settings"):
        for source in (ROOT / folder).iterdir():
            target = project / folder / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(ports.move(source.name, move(source.read_text(), sandbox)))
            target.chmod(source.stat().st_mode & 0o777)
    make_certificate(project)
    return project


def test_the_not_run_list_matches_the_guide():
    commands = guide_commands()
    assert set(NOT_RUN) <= set(commands), set(NOT_RUN) - set(commands)
    table = GUIDE.read_text().split("## What the tests run", 1)[1]
    for line in NOT_RUN:
        assert f"`{line.split()[0]}" in table, f"the guide's last table does not mention {line!r}"


def test_the_guide_runs_word_for_word(tmp_path):
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("the deployment guide's test runs as root under CI")
        pytest.skip("the deployment guide is run as root (as CI runs)")
    for tool in ("nginx", "systemd-analyze", "useradd", "runuser", "curl"):
        if not (shutil.which(tool) or os.access(f"/usr/sbin/{tool}", os.X_OK)):
            if os.environ.get("CI") == "true":
                pytest.fail(f"{tool} is needed under CI")
            pytest.skip(f"{tool} is not installed")
    pexpect = pytest.importorskip("pexpect")
    sandbox = tmp_path / "machine"
    ports = Ports()
    project = prepare(sandbox, ports)
    commands = guide_commands()
    script = tmp_path / "guide.sh"
    script.write_text("\n".join(in_sandbox(c, sandbox, ports) for c in commands) + "\n")
    env = installed_env(PATH=f"{sandbox}/usr/local/bin:{sandbox}/usr/local/sbin:/usr/sbin:/sbin:{os.environ['PATH']}",
                        TERM="dumb")
    for name in ("TRIAGE_DB", "TRIAGE_SETTINGS", "TRIAGE_BASE_URL", "TRIAGE_CONFIG"):  # as on a fresh machine
        env.pop(name, None)
    try:
        child = pexpect.spawn("bash", ["-xeuo", "pipefail", str(script)], cwd=str(project), env=env,
                              encoding="utf-8", timeout=600, dimensions=(50, 200))
        output = []
        while True:
            index = child.expect([r"New password for \S+: ", "The same password again: ", pexpect.EOF])
            output.append(child.before)
            if index == 2:
                break
            child.sendline(PASSWORD)
        child.close()
    finally:
        journal = systemd_standin.stop_everything(sandbox)
    log = "".join(output)
    assert child.exitstatus == 0, log[-4000:] + "\n--- the service's journal:\n" + journal[-3000:]

    # 6 and 10: the service ran from its unit, stopped cleanly each time (for the restore; at the end).
    assert "Traceback" not in journal and "refused a request" not in journal, journal[-3000:]
    assert journal.count("serving on http://127.0.0.1:") == 3 and journal.count("stopped\n") == 3, journal[-3000:]
    assert "Active: active (running)" in log
    # 8: through the real nginx, by the clinic's name over https: alive, and the pages answer that name.
    assert re.search(r"^ok\r?$", log, re.M) and re.search(r"^200\r?$", log, re.M), log[-3000:]

    # 3: the service user (in the scratch copy of /etc/passwd) and its folders.
    assert re.search(r"^fbss-triage:x:\d+:\d+::/var/lib/fbss-triage:/usr/sbin/nologin$",
                     (sandbox / "etc/passwd").read_text(), re.M)
    modes = {path: stat.S_IMODE((sandbox / path).stat().st_mode) for path in (
        "etc/fbss-triage", "var/lib/fbss-triage", "var/backups/fbss-triage", "etc/fbss-triage/triage.env",
        "etc/fbss-triage/triage.toml", "etc/fbss-triage/audit.key",
        "usr/local/sbin/fbss-triage", "var/lib/fbss-triage/triage.db", "etc/ssl/fbss-triage/privkey.pem")}
    assert modes == {"etc/fbss-triage": 0o750, "var/lib/fbss-triage": 0o700, "var/backups/fbss-triage": 0o700,
                     "etc/fbss-triage/triage.env": 0o640, "etc/fbss-triage/triage.toml": 0o644, "etc/fbss-triage/audit.key": 0o600, "usr/local/sbin/fbss-triage": 0o755,
                     "var/lib/fbss-triage/triage.db": 0o600, "etc/ssl/fbss-triage/privkey.pem": 0o600}
    # 5 and 8: the accounts, and an invitation whose link is the clinic's https name.
    assert "anna" in log and "dr-lee" in log
    assert re.search(rf"link: https://{re.escape(NAME)}/intake/code/[0-9A-Z-]+", log), log[-3000:]
    # 6 and 9: systemd-analyze verify said nothing; 7: nginx -t passed with the site in place.
    assert "ignoring" not in log and "not executable" not in log
    assert "test is successful" in log
    enabled = sandbox / "etc/nginx/sites-enabled"
    assert sorted(p.name for p in enabled.iterdir()) == ["fbss-triage"]
    assert f"server_name {NAME};" in (enabled / "fbss-triage").read_text()
    assert f'base_url = "https://{NAME}"' in (sandbox / "etc/fbss-triage/triage.toml").read_text()
    # 9, 10, 11: backups named by time and 0600; the drill, the forced restore and every backup show one head.
    backups = sorted((sandbox / "var/backups/fbss-triage").iterdir())
    assert len(backups) == 2 and all(re.fullmatch(r"triage-\S+Z(-\d+)?\.db", b.name) for b in backups)
    assert all(stat.S_IMODE(b.stat().st_mode) == 0o600 for b in backups)
    heads = re.findall(r"^head: (\S+?)\r?$", log, re.M)
    assert len(heads) == 5 and len(set(heads)) == 1, heads  # backup (its journal), drill restore, drill verify, restore, backup
    assert re.fullmatch(r"k[0-9a-f]{12}:[0-9a-f]{64}", heads[0]), heads[0]  # signed with the machine's key (step 4)
    assert "are keyed: give the key file" not in log  # every command had the key (the wrapper's environment)
    assert log.count("ok: restored into") == 2
    assert not (sandbox / "var/lib/fbss-triage/drill.db").exists()
