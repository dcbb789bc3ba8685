"""Every error line names its command (`error: triage show: ...`), as the README says: a representative
error of every command, raised by the command itself (not by argparse, whose lines always named it),
and every command of `triage` is in the table (a new command without a case fails here)."""

from __future__ import annotations

import argparse

import pytest

from conftest import run_cli
from triage.channels.cli.main import build_parser


def leaf_commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ("triage",)) -> set[str]:
    subs = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not subs:
        return {" ".join(words)}
    return set().union(*(leaf_commands(sub, (*words, name)) for name, sub in subs[0].choices.items()))


# command -> (its arguments, with {bad} = a file that is not a store and {dir} = an empty folder;
# the exit code; a part of the message)
CASES = {
    "triage assess": (["{dir}/nope.json"], 2, "cannot be read"),
    "triage batch": (["{dir}/nope.jsonl", "--out", "{dir}/out.jsonl"], 2, "cannot be read"),
    "triage rules": ([], 3, "broken"),  # the definitions fail to load (monkeypatched below)
    "triage questions": (["--audience", "patient"], 2, "--audience: applies to --format fhir only"),
    "triage intake": (["--resume", "-"], 2, "--resume: needs a file name"),
    "triage list": (["--db", "{bad}"], 5, "is not a triage store"),
    "triage show": (["99", "--db", "{dir}/new.db"], 2, "intake 99 does not exist"),
    "triage export": (["99", "--format", "json", "--db", "{dir}/new.db"], 2, "intake 99 does not exist"),
    "triage audit verify": (["--db", "{bad}"], 5, "is not a triage store"),
    "triage db migrate": (["--db", "{bad}"], 5, "is not a triage store"),
    "triage db backup": (["{dir}/copy.db", "--db", "{dir}/typo.db"], 5, "no store there"),
    "triage db restore": (["{dir}/none.copy", "--db", "{dir}/new.db"], 2, "no such file"),
    "triage users add": (["nurse", "--role", "coordinator", "--db", "{bad}"], 5, "is not a triage store"),
    "triage users list": (["--db", "{bad}"], 5, "is not a triage store"),
    "triage users disable": (["nurse", "--db", "{bad}"], 5, "is not a triage store"),
    "triage users reset-password": (["nurse", "--db", "{bad}"], 5, "is not a triage store"),
    "triage users reset-second-factor": (["nurse", "--db", "{bad}"], 5, "is not a triage store"),
    "triage users set-role": (["nurse", "clinician", "--db", "{bad}"], 5, "is not a triage store"),
    "triage records list": (["--db", "{bad}"], 5, "is not a triage store"),
    "triage records request": (["1", "current_mri", "--from", "the imaging center", "--db", "{bad}"], 5,
                               "is not a triage store"),
    "triage records receive": (["1", "current_mri", "--db", "{bad}"], 5, "is not a triage store"),
    "triage records unobtainable": (["1", "current_mri", "--reason", "closed", "--db", "{bad}"], 5,
                                    "is not a triage store"),
    "triage serve": ([], 2, "TRIAGE_PORT: must be a whole number"),  # TRIAGE_PORT=abc (below)
    "triage invite": (["--db", "{bad}"], 5, "is not a triage store"),
}


def test_every_command_has_a_case():
    assert leaf_commands(build_parser()) == set(CASES)


@pytest.mark.parametrize("command", sorted(CASES))
def test_the_error_line_names_its_command(command, tmp_path, monkeypatch):
    args, code, message = CASES[command]
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a store " * 500)
    if command == "triage serve":  # a setting refused before anything listens
        monkeypatch.setenv("TRIAGE_PORT", "abc")
    if command == "triage rules":
        from triage.core import ruleset
        from triage.core.errors import DefinitionError

        def broken(*_, **__):
            raise DefinitionError("rules/fbss.toml: broken on purpose")

        monkeypatch.setattr(ruleset, "load_ruleset", broken)
    words = command.split()[1:]
    run = run_cli(*words, *(arg.format(bad=bad, dir=tmp_path) for arg in args))
    assert run.code == code, run.err
    lines = run.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {command}: ") and message in lines[0], run.err
