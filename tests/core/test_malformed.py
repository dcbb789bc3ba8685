"""The malformed-input corpus (tests/data/malformed/): every kind of broken answers input exits 2 with one
line per problem naming the field or file, prints nothing on standard output, never a traceback, and
leaves the input untouched.

Every corpus file runs in-process (tests/conftest.py run_cli); a representative subset, and every
case made at run time (folder, huge file, deep nesting, symlink loop, device, closed or empty
standard input), runs through the real command in a subprocess, as a user would meet it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from support.cli import TRIAGE, installed_env

CORPUS = Path(__file__).parents[1] / "data" / "malformed"
EXPECTED: dict[str, list[list[str]]] = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))
# One of each family (encoding, JSON syntax, JSON values, answers contract, text that would break the
# terminal); each subprocess costs ~0.25 s of start-up, and the in-process run covers every file.
SUBPROCESS_SUBSET = ["bom.json", "utf16.json", "wrong-types.json", "number-1e999.json",
                     "not-an-object-array.json", "lone-surrogate.json", "control-character-in-text.json"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "not a file"


def check_rejected(code: int, out: str, err: str, expected: list[list[str]], where: str) -> None:
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == len(expected), f"one line per problem expected, got:\n{err}"
    for field, message in expected:
        field = where if field == "FILE" else field
        assert any(line.startswith(f"error: triage assess: {field}: ") and message in line for line in lines), (field, message, err)


def run_subprocess(*args: str, **options) -> subprocess.CompletedProcess:
    options.setdefault("stdin", subprocess.DEVNULL)
    env = installed_env()
    env.pop("TRIAGE_DEBUG", None)
    return subprocess.run([*TRIAGE, "assess", *args], capture_output=True,
                          text=True, env=env, timeout=60, **options)


def test_the_corpus_has_at_least_twenty_kinds_and_every_file_is_listed():
    files = sorted(p.name for p in CORPUS.glob("*.json"))
    assert sorted(EXPECTED) == files
    assert len(files) >= 20


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_in_process(name):
    path = CORPUS / name
    before = digest(path)
    run = run_cli("assess", str(path), "--format", "json")
    check_rejected(run.code, run.out, run.err, EXPECTED[name], str(path))
    assert digest(path) == before


@pytest.mark.parametrize("name", SUBPROCESS_SUBSET)
def test_corpus_file_through_the_real_command(name):
    path = CORPUS / name
    before = digest(path)
    done = run_subprocess(str(path))
    check_rejected(done.returncode, done.stdout, done.stderr, EXPECTED[name], str(path))
    assert digest(path) == before


# ---------------------------------------------------------------------------------------------
# Cases a file in git cannot hold, made at run time; all through the real command.

def _huge(tmp_path: Path) -> Path:
    path = tmp_path / "huge.json"
    path.write_text('{"patient_id": "' + "x" * (1024 * 1024 + 10) + '"}', encoding="utf-8")
    return path


def _deep(tmp_path: Path) -> Path:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    return path


def _deep_object(tmp_path: Path) -> Path:
    path = tmp_path / "deep-object.json"
    path.write_text('{"veteran": ' + '{"a": ' * 50_000 + "1" + "}" * 50_001, encoding="utf-8")
    return path


def _folder(tmp_path: Path) -> Path:
    path = tmp_path / "answers.json"
    path.mkdir()
    return path


def _symlink_loop(tmp_path: Path) -> Path:
    (tmp_path / "a.json").symlink_to(tmp_path / "b.json")
    (tmp_path / "b.json").symlink_to(tmp_path / "a.json")
    return tmp_path / "a.json"


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "no-such-answers.json"


@pytest.mark.parametrize("make, message", [
    (_huge, "is larger than 1 MiB; an answers file is a few kB"),
    (_deep, "is nested too deeply to be an answers file"),
    (_deep_object, "is nested too deeply to be an answers file"),
    (_folder, "is a folder, not an answers file"),
    (_symlink_loop, "cannot be read (too many levels of symbolic links)"),
    (_missing, "cannot be read (no such file or directory)"),
], ids=["huge-file", "100k-brackets", "deep-object", "folder", "symlink-loop", "missing-file"])
def test_made_at_run_time_through_the_real_command(tmp_path, make, message):
    path = make(tmp_path)
    before = digest(path)
    done = run_subprocess(str(path))
    check_rejected(done.returncode, done.stdout, done.stderr, [["FILE", message]], str(path))
    assert digest(path) == before


def test_a_device_that_never_ends_is_refused_not_read_forever():
    """/dev/zero reports size 0; an unbounded read would fill memory."""
    done = run_subprocess("/dev/zero")
    check_rejected(done.returncode, done.stdout, done.stderr,
                   [["FILE", "is larger than 1 MiB; an answers file is a few kB"]], "/dev/zero")


def test_an_unreadable_file(tmp_path):
    path = tmp_path / "locked.json"
    path.write_text('{"veteran": "yes"}', encoding="utf-8")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: a file with mode 000 is still readable, so this cannot be shown here")
        done = run_subprocess(str(path))
        check_rejected(done.returncode, done.stdout, done.stderr,
                       [["FILE", "cannot be read (permission denied)"]], str(path))
    finally:
        path.chmod(0o600)


def test_empty_standard_input():
    done = run_subprocess("-", stdin=subprocess.DEVNULL)
    check_rejected(done.returncode, done.stdout, done.stderr,
                   [["FILE", "is empty; expected a JSON object of answers"]], "standard input")


def test_closed_standard_input():
    """Started with file descriptor 0 closed (`triage assess - <&-`): Python sets sys.stdin to None."""
    done = run_subprocess("-", stdin=None, preexec_fn=lambda: os.close(0))
    check_rejected(done.returncode, done.stdout, done.stderr,
                   [["FILE", "is closed; pipe the answers in or give a file"]], "standard input")


def test_malformed_standard_input():
    done = run_subprocess("-", stdin=(CORPUS / "json-lines-two-objects.json").open("rb"))
    check_rejected(done.returncode, done.stdout, done.stderr,
                   EXPECTED["json-lines-two-objects.json"], "standard input")
