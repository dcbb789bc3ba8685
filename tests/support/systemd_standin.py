"""A stand-in for ``systemctl`` and ``journalctl`` where no systemd runs (a test's scratch machine): it
starts what the guide's systemctl lines would start, from the installed unit files themselves, so the
commands after them (curl through nginx, a restore with the service stopped) meet a real service.

- ``systemctl enable --now UNIT`` / ``start`` / ``restart``: a ``.service`` runs its ``ExecStart`` in the
  background with the unit's ``EnvironmentFile`` and ``Environment`` (``%C`` is the cache folder) and a
  plain environment (PATH, HOME, LANG), as systemd does; output goes to the unit's journal file.
  Unlike systemd it returns only once the program answers on its ``--port`` (``/healthz``) or has
  ended, so that a test's next line meets a started service. A ``Type=oneshot`` service runs to its
  end, then its ``ExecStartPost`` lines (as systemd does, only after a success). A ``.timer`` is only
  marked enabled (its service runs on schedule, which a test does not wait for).
- ``systemctl stop UNIT``: SIGTERM, then waits (``TimeoutStopSec``, 30 s).
- ``systemctl status UNIT``: ``active (running)`` (exit 0) or ``inactive (dead)`` (exit 3).
- ``systemctl reload nginx``: starts Debian's nginx on the machine's configuration, or reloads it.
- ``systemctl daemon-reload``: nothing to do.
- ``journalctl -u UNIT``: the unit's journal file.

What it does not do: run as the unit's ``User`` in a scratch machine (the test's user stands for it,
as in the rest of that machine; with ``ROOT`` ``/``, a real machine, it does) or apply the sandboxing
options (``systemd-analyze verify`` and ``security`` check
those). Run as ``python systemd_standin.py ROOT systemctl|journalctl ARGS...``; ``ROOT`` is the scratch
machine, whose ``etc/systemd/system`` holds the units and ``run/standin`` the process ids and journals.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def unit_file(root: Path, name: str) -> Path:
    if "." not in name:
        name += ".service"
    return root / "etc/systemd/system" / name


def settings(path: Path) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def environment(root: Path, unit: dict[str, list[str]]) -> dict[str, str]:
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": str(root / "var/lib/fbss-triage"), "LANG": "C.UTF-8"}
    for name in unit.get("EnvironmentFile", []):
        for line in Path(name.lstrip("-")).read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                env[key.strip()] = value.strip().strip('"')
    for assignment in unit.get("Environment", []):
        key, _, value = assignment.partition("=")
        env[key] = value.replace("%C", str(root / "var/cache"))
    return env


def state(root: Path, name: str, suffix: str) -> Path:
    folder = root / "run/standin"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.{suffix}"


def running(root: Path, name: str) -> int | None:
    pid_file = state(root, name, "pid")
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    try:  # a zombie (ended, not yet reaped) is not running
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return None
    except OSError:
        return None
    return pid


def start(root: Path, name: str) -> int:
    if name.endswith(".timer"):
        print(f"(stand-in) {name} enabled; it runs its service on schedule")
        return 0
    path = unit_file(root, name)
    unit = settings(path)
    name = path.name
    if running(root, name):
        return 0
    command = shlex.split(unit["ExecStart"][0])
    journal = state(root, name, "journal")
    if unit.get("Type") == ["oneshot"]:  # runs to its end, then ExecStartPost (only after a success)
        return run_once(root, unit, journal)
    env, account = launch(root, unit)
    with open(journal, "ab") as log:
        process = subprocess.Popen(command, cwd="/", env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   start_new_session=True, **account)
    state(root, name, "pid").write_text(str(process.pid))
    port = int(command[command.index("--port") + 1]) if "--port" in command else None
    deadline = time.monotonic() + 60
    while port and process.poll() is None and time.monotonic() < deadline:
        try:  # answering, not only listening (the port is open before the program has started)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                if answer.status == 200:
                    break
        except OSError:
            time.sleep(0.05)
    if process.poll() not in (None, 0):
        print(f"(stand-in) {name} failed: see journalctl -u {name}", file=sys.stderr)
        return 1
    return 0


def launch(root: Path, unit: dict[str, list[str]]) -> tuple[dict[str, str], dict]:
    """The unit's environment, and the subprocess options of its account: on a real machine (root
    ``/``, run as root) its own ``User`` (and that user's home); in a scratch machine none (the test's
    user stands for the account)."""
    env = environment(root, unit)
    if str(root) != "/" or os.geteuid() != 0 or "User" not in unit:
        return env, {}
    import pwd

    user = pwd.getpwnam(unit["User"][0])
    env["HOME"] = user.pw_dir
    return env, {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def run_once(root: Path, unit: dict[str, list[str]], journal: Path) -> int:
    env, account = launch(root, unit)
    with open(journal, "ab") as log:
        for line in [*unit["ExecStart"], *unit.get("ExecStartPost", [])]:
            done = subprocess.run(shlex.split(line), cwd="/", env=env, stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=log, **account)
            if done.returncode:
                print(f"(stand-in) {line.split()[0]} failed (exit {done.returncode}): see journalctl", file=sys.stderr)
                return 1
    return 0


def stop(root: Path, name: str) -> int:
    name = unit_file(root, name).name
    pid = running(root, name)
    if pid is None:
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while running(root, name) and time.monotonic() < deadline:
        time.sleep(0.05)
    if running(root, name):
        os.kill(pid, signal.SIGKILL)
        print(f"(stand-in) {name} did not stop in 30 s: killed", file=sys.stderr)
        return 1
    return 0


def nginx(root: Path, *extra: str) -> list[str]:
    binary = "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else "nginx"
    return [binary, "-p", f"{root}/etc/nginx/", "-c", f"{root}/etc/nginx/nginx.conf",
            "-e", f"{root}/var/log/nginx/error.log", *extra]


def nginx_pid(root: Path) -> int | None:
    """nginx's master process, if it runs (``nginx -t`` may leave an empty pid file)."""
    try:
        pid = int((root / "run/nginx.pid").read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def systemctl(root: Path, args: list[str]) -> int:
    words = [a for a in args if not a.startswith("--") or a == "--now"]
    verb, units = words[0], [w for w in words[1:] if w != "--now"]
    if verb == "daemon-reload":
        return 0
    if verb == "reload" and units == ["nginx"]:
        if nginx_pid(root):
            return subprocess.run(nginx(root, "-s", "reload")).returncode
        return subprocess.run(nginx(root)).returncode
    if verb in ("start", "enable") and (verb == "start" or "--now" in args):
        return max(start(root, u) for u in units)
    if verb == "enable":
        return 0
    if verb == "stop":
        return max(stop(root, u) for u in units)
    if verb == "restart":
        return max(stop(root, u) or start(root, u) for u in units)
    if verb == "status":
        name = unit_file(root, units[0]).name
        pid = running(root, name)
        description = settings(unit_file(root, name)).get("Description", [name])[0]
        print(f"* {name} - {description}")
        print(f"     Active: {'active (running)' if pid else 'inactive (dead)'}" + (f"; Main PID: {pid}" if pid else ""))
        return 0 if pid else 3
    print(f"(stand-in) systemctl {' '.join(args)}: not known to the stand-in", file=sys.stderr)
    return 1


def journalctl(root: Path, args: list[str]) -> int:
    name = unit_file(root, args[args.index("-u") + 1]).name
    journal = state(root, name, "journal")
    text = journal.read_text(errors="replace") if journal.exists() else ""
    print(text if text else "-- No entries --", end="" if text.endswith("\n") else "\n")
    return 0


def stop_everything(root: Path) -> str:
    """After the test: stop every service and nginx; returns the services' journals."""
    folder = root / "run/standin"
    journals = ""
    for pid_file in sorted(folder.glob("*.pid")) if folder.exists() else []:
        stop(root, pid_file.name[:-len(".pid")])
    for journal in sorted(folder.glob("*.journal")) if folder.exists() else []:
        journals += journal.read_text(errors="replace")
    if nginx_pid(root):
        subprocess.run(nginx(root, "-s", "quit"), capture_output=True)
        deadline = time.monotonic() + 30
        while nginx_pid(root) and time.monotonic() < deadline:
            time.sleep(0.05)
    return journals


if __name__ == "__main__":
    machine, tool, *rest = sys.argv[1:]
    sys.exit({"systemctl": systemctl, "journalctl": journalctl}[tool](Path(machine), rest))
