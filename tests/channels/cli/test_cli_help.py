"""Help a coordinator can read in any terminal: every --help fits 60 and 80 columns and lists only the
exit codes its command can return, in that command's words; bare `triage` is one screen; a mistyped
option gets a did-you-mean like a mistyped command."""

from __future__ import annotations

import subprocess

import pytest

from conftest import ROOT, run_cli
from support.cli import TRIAGE, installed_env
from triage.channels.cli import common
from triage.channels.cli.main import COMMANDS

ACTIONS = {"audit": ("verify",), "db": ("migrate",), "users": ("add", "list", "disable", "reset-password")}
EVERY_HELP = [(name,) for names in COMMANDS.values() for name in names] + \
    [(name, action) for name, actions in ACTIONS.items() for action in actions]


@pytest.fixture
def columns(monkeypatch):
    def set_to(width: int) -> None:
        monkeypatch.setenv("COLUMNS", str(width))
        common._help_width.cache_clear()  # asked once per process, as a terminal's width is

    yield set_to
    common._help_width.cache_clear()


@pytest.mark.parametrize("width", [60, 80])
@pytest.mark.parametrize("words", EVERY_HELP, ids=" ".join)
def test_every_help_fits_the_terminal(columns, words, width):
    columns(width)
    run = run_cli(*words, "--help")
    assert run.code == 0, run.err
    wide = [line for line in run.out.splitlines() if len(line) > width]
    assert wide == [], f"{' '.join(words)} --help at {width} columns: {wide}"
    assert "exit codes:" in run.out


def exit_codes_of(text: str) -> dict[int, str]:
    block = text.split("exit codes:\n", 1)[1]
    codes, current = {}, None
    for line in block.splitlines():
        if line[:7].strip().isdigit():
            current = int(line[:7])
            codes[current] = line[7:].strip()
        elif current is not None and line.startswith(" " * 7):
            codes[current] += " " + line.strip()
    return codes


def test_help_lists_only_the_codes_a_command_can_return_in_its_own_words(columns):
    columns(100)
    verify = exit_codes_of(run_cli("audit", "verify", "--help").out)
    assert 130 in verify and "answers" not in verify[130]  # nothing is typed at a prompt there
    assert 129 not in verify and 6 not in verify and 8 not in verify
    assert 7 in verify
    intake = exit_codes_of(run_cli("intake", "--help").out)
    assert "answers already entered are saved" in intake[130] and 129 in intake
    rules = exit_codes_of(run_cli("rules", "--help").out)
    assert set(rules) == {0, 2, 3, 70, 74, 130}
    assert "nothing was saved" not in rules[74]  # rules saves nothing
    assert "stop record" in exit_codes_of(run_cli("batch", "--help").out)[130]


def test_bare_triage_is_one_screen_of_commands_and_exits_2():
    run = run_cli()
    assert run.code == 2 and run.out == ""
    lines = run.err.splitlines()
    assert len(lines) <= 22 and max(map(len, lines)) <= 80
    for names in COMMANDS.values():
        for name in names:
            assert any(line.split()[:1] == [name] for line in lines), name
    assert "`triage COMMAND --help`" in run.err


@pytest.mark.parametrize(("words", "hint"), [
    (("list", "--stauts", "urgent"), "--stauts: did you mean --status?"),
    (("audit", "verify", "--dbb", "x.db"), "--dbb: did you mean --db?"),
    (("assess", "x.json", "--fromat", "json"), "--fromat: did you mean --format?"),
])
def test_a_mistyped_option_gets_did_you_mean(words, hint):
    run = run_cli(*words)
    assert run.code == 2
    assert run.err.startswith(f"error: triage {words[0]}") and hint in run.err and run.err.count("\n") == 1


@pytest.mark.parametrize(("columns", "width"), [(None, 80), ("60", 60), ("120", 120)])
def test_piped_output_is_as_wide_as_columns_else_80_and_breaks_no_word(tmp_path, columns, width):
    """`triage assess FILE | less` in an 80-column terminal: 100-column lines broke the emergency
    banner mid-word ("The patient shou" / "ld not wait")."""
    env = installed_env(**({"COLUMNS": columns} if columns else {}))
    env.pop("COLUMNS", None) if columns is None else None
    done = subprocess.run([*TRIAGE, "assess", str(ROOT / "examples" / "red-flag.json")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(map(len, lines)) <= width
    assert max(map(len, lines)) > width - 15  # it uses the width it has
    words = set(done.stdout.split())
    assert {"should", "not", "wait", "emergency"} <= words
