"""A clinic network for tests: a throwaway PostgreSQL, several installed `triage serve` processes on it
and a real HAProxy in front, round robin without stickiness (tests/whole/test_fleet.py,
benchmarks/bench_fleet.py).

Every process binds 127.0.0.1 only. The app processes and HAProxy are children of the test process
that die with it (PR_SET_PDEATHSIG), so a test killed half-way leaves nothing listening; PostgreSQL
(daemonised by pg_ctl) is stopped by ``Fleet.stop`` like the suite's own cluster. Every wait is on a
condition (a log line, /readyz, HAProxy's server state), with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from support.cli import TRIAGE, installed_env
from support.postgres import Cluster, start_cluster

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
START_SECONDS = 60.0  # a `triage serve` loads every definition and language first: seconds on a busy machine


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the test process ends, however it ends."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, what: str, seconds: float = START_SECONDS, every: float = 0.05):
    """Poll ``condition`` until it returns something true (returned), or fail naming ``what``."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(every)


def status(url: str, timeout: float = 10.0) -> int:
    """The HTTP status of a GET (0: no answer at all)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


@dataclass
class App:
    """One `triage serve` process: its log (stderr) is a file, read after it ends."""

    name: str
    process: subprocess.Popen
    log: Path
    url: str = ""

    def ready(self) -> bool:
        return status(self.url + "/readyz") == 200

    def not_ready(self) -> bool:
        return status(self.url + "/readyz") == 503

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as a crash or the OOM killer ends it."""
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@dataclass
class Fleet:
    folder: Path
    cluster: Cluster
    db: str
    env: dict[str, str]
    apps: list[App] = field(default_factory=list)
    balancer: subprocess.Popen | None = None
    balancer_log: Path | None = None
    port: int = 0
    stopped: bool = False

    @property
    def url(self) -> str:
        """What patients and staff open: the balancer."""
        return f"http://127.0.0.1:{self.port}"

    # -- app processes --------------------------------------------------------------------------

    def start_app(self, name: str) -> App:
        log = self.folder / f"{name}.log"
        work = self.folder / name
        work.mkdir(exist_ok=True)
        with open(log, "wb") as stream:
            process = subprocess.Popen([*TRIAGE, "serve", "--port", "0", "--threads", "8"], cwd=work, env=self.env,
                                       stdin=subprocess.DEVNULL, stdout=stream, stderr=stream,
                                       preexec_fn=_die_with_parent)
        app = App(name, process, log)
        self.apps.append(app)
        return app

    def wait_serving(self, app: App) -> None:
        def announced():
            if app.process.poll() is not None:
                raise AssertionError(f"{app.name} ended ({app.process.returncode}): {app.text()}")
            found = re.search(r"serving on (http://127\.0\.0\.1:\d+)/intake/", app.text())
            return found and found.group(1)

        app.url = wait_until(announced, f"{app.name} to listen")
        wait_until(app.ready, f"{app.name}'s /readyz")

    def command(self, *args: str, stdin: str | None = None) -> str:
        """A `triage` command on the fleet's store, as a coordinator runs it."""
        done = subprocess.run([*TRIAGE, *args], cwd=self.folder, env=self.env, input=stdin, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    # -- the balancer ---------------------------------------------------------------------------

    def start_balancer(self, apps: list[App] | None = None) -> None:
        apps = self.apps if apps is None else apps
        config = self.folder / "haproxy.cfg"
        servers = "\n".join(f"    server {app.name} {app.url.removeprefix('http://')} check" for app in apps)
        # Round robin, no stickiness (no cookie, no hash): consecutive requests of one browser go to
        # different processes. /healthz (liveness) takes a dead process out within a check or two;
        # a connection refused in between is retried on another process (redispatch). The access log
        # (stdout) records every status the balancer sent back, HAProxy's own 502/503 included.
        config.write_text(f"""global
    log stdout format raw local0
    maxconn 256

defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch 1
    retry-on conn-failure

frontend web
    bind 127.0.0.1:{self.port}
    default_backend apps

backend apps
    balance roundrobin
    option forwardfor
    option httpchk GET /healthz
    default-server inter 300ms fall 1 rise 1
{servers}
""", encoding="utf-8")
        checked = subprocess.run([HAPROXY, "-c", "-q", "-f", str(config)], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr + checked.stdout
        self.balancer_log = self.folder / "haproxy.log"
        with open(self.balancer_log, "wb") as stream:
            self.balancer = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], cwd=self.folder,
                                             stdin=subprocess.DEVNULL, stdout=stream, stderr=stream,
                                             preexec_fn=_die_with_parent)
        wait_until(lambda: self.balancer.poll() is not None or status(self.url + "/healthz") == 200, "HAProxy")
        assert self.balancer.poll() is None, self.balancer_log.read_text()

    def responses(self) -> list[tuple[int, str]]:
        """Every answer HAProxy logged: (status, request line), from its httplog lines."""
        text = self.balancer_log.read_text(encoding="utf-8", errors="replace") if self.balancer_log else ""
        return [(int(code), request) for code, request in
                re.findall(r' -?\d+/-?\d+/-?\d+/-?\d+/-?\d+ (\d{3}) .*?"([^"]*)"', text)]

    # -- the database ----------------------------------------------------------------------------

    def stop_database(self) -> None:
        self.cluster.stop_server()

    def start_database(self) -> None:
        self.cluster.start_server()

    # -- the end --------------------------------------------------------------------------------

    def stop(self) -> None:
        """Every process and the database stopped; the logs kept until ``remove`` (may be called again)."""
        if self.stopped:
            return
        self.stopped = True
        try:
            if self.balancer is not None and self.balancer.poll() is None:
                self.balancer.terminate()
                self.balancer.wait(timeout=30)
            for app in self.apps:
                app.stop()
        finally:
            self.cluster.stop()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def logs(self) -> str:
        return "\n".join(f"--- {app.name}\n{app.text()}" for app in self.apps)


def start_fleet(processes: int = 3, *, extra_env: dict[str, str] | None = None, wait: bool = True) -> Fleet:
    """PostgreSQL, ``processes`` `triage serve` on one store (configured by environment variables, as
    docs/operations.md describes: the store, the public base URL, the balancer as trusted proxy), and
    HAProxy in front."""
    cluster = start_cluster()
    folder = Path(tempfile.mkdtemp(prefix="triage-fleet-"))
    fleet = None
    try:
        db = cluster.new_database()
        port = free_port()
        env = installed_env(TRIAGE_DB=db, TRIAGE_BASE_URL=f"http://127.0.0.1:{port}",
                            TRIAGE_TRUSTED_PROXIES="127.0.0.1", **(extra_env or {}))
        for name in ("TRIAGE_SETTINGS", "TRIAGE_CONFIG", "TRIAGE_CDS_HOOKS"):
            if name not in (extra_env or {}):
                env.pop(name, None)
        fleet = Fleet(folder, cluster, db, env, port=port)
        fleet.command("db", "migrate")  # the schema once, before processes race to create it
        apps = [fleet.start_app(f"app{n}") for n in range(1, processes + 1)]
        if wait:
            for app in apps:
                fleet.wait_serving(app)
            fleet.start_balancer()
        return fleet
    except BaseException:
        if fleet is not None:
            fleet.stop()
            fleet.remove()
        else:
            cluster.stop()
            shutil.rmtree(folder, ignore_errors=True)
        raise
