"""An upload survives kill -9 of the installed server at any moment without a half-stored file
(issue 30, item 6): each file is one transaction with its audit row. The server (`triage serve`, a
process of its own) is killed while the body is half sent, right after it is all sent (the file is
being checked or written), and after the answer came; each time it is started again on the same
store. Whatever the moment, `audit verify` passes (every file's bytes match the SHA-256 of the audit
row that added it, no file without its row), and every file whose answer came is there, whole."""

from __future__ import annotations

import hashlib
import html
import http.client
import http.cookiejar
import re
import signal
import subprocess
import time
import urllib.parse
import urllib.request
import uuid

import pytest

from support import hostile_files as files
from support.cli import TRIAGE, installed_env

pytest.importorskip("flask")


class Server:
    def __init__(self, folder, env):
        self.process = subprocess.Popen([*TRIAGE, "serve", "--port", "0"], cwd=folder, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        line = self.process.stderr.readline()
        self.base = re.search(r"serving on (http://127\.0\.0\.1:\d+)/intake/", line).group(1)
        self.port = int(self.base.rsplit(":", 1)[1])
        deadline = time.monotonic() + 60
        while True:  # the socket listens before the web layer has taken over
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=30).read()
                return
            except OSError:
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.1)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process.stderr.close()


def multipart(token: str, data: bytes, name: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_an_upload_survives_kill_9_at_any_moment(tmp_path):
    folder = tmp_path / "service"
    folder.mkdir()
    db = folder / "triage.db"
    env = installed_env(TRIAGE_DB=str(db))
    env.pop("TRIAGE_SETTINGS", None)
    invited = subprocess.run([*TRIAGE, "invite", "--patient-id", "P-CRASH"], cwd=folder, env=env, capture_output=True,
                             text=True, timeout=120)
    code = re.search(r"code: (\S+)", invited.stdout).group(1)
    photo = files.jpeg(2400, 3200)  # a phone photo's size: re-encoding it takes a moment
    server = Server(folder, env)
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = browser.open(f"{server.base}/intake/code/{code}").read().decode()
    token = html.unescape(re.search(r'name="csrf_token" value="([^"]+)"', page).group(1))
    browser.open(f"{server.base}/intake/", urllib.parse.urlencode({"csrf_token": token, "code": code}).encode()).read()
    answered = []  # the names of the files whose answer came
    try:
        for moment in ("half the body sent", "all of it sent", "after the answer", "all of it sent", "half the body sent"):
            page = browser.open(f"{server.base}/intake/records").read().decode()
            token = html.unescape(re.search(r'name="csrf_token" value="([^"]+)"', page).group(1))
            name = f"page-{len(answered)}-{moment.split()[0]}.jpg"
            body, kind = multipart(token, photo, name)
            cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            connection.putrequest("POST", "/intake/records/surgical_report")
            for header, value in (("Content-Type", kind), ("Content-Length", str(len(body))), ("Cookie", cookie),
                                  ("Origin", server.base)):
                connection.putheader(header, value)
            connection.endheaders()
            if moment == "half the body sent":
                connection.send(body[: len(body) // 2])
            else:
                connection.send(body)
            if moment == "after the answer":
                response = connection.getresponse()
                assert response.status == 303, response.read()[:500]
                answered.append(name)
            server.kill()
            connection.close()
            server = Server(folder, env)  # the same store, the same session (sessions live in the store)
    finally:
        server.kill()
    verified = subprocess.run([*TRIAGE, "audit", "verify"], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=300)
    assert verified.returncode == 0, verified.stderr
    from triage.records.store import open_store

    with open_store(db) as store:
        stored = store.record_files(1)
        for kept in stored:  # whole: the bytes match their hash and decode as the photo's size
            data = store.record_file_data(kept.id)
            assert hashlib.sha256(data).hexdigest() == kept.sha256 and kept.size == len(data)
    names = [kept.filename for kept in stored]
    assert set(answered) <= set(names)
    assert not any("half" in name for name in names)  # a half-sent body is never a file
