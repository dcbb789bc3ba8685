"""The command line as users meet it: exit codes, one-line errors, stdin, help, installed command."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from triage.channels.cli import main as cli
from triage.channels.cli.common import PLAIN_WORDS, ExitCode, exit_codes_markdown, exit_codes_text
from triage.core.ruleset import load_ruleset

EXAMPLE = str(ROOT / "examples" / "adjacent-tear.json")


def test_json_is_the_result_contract():
    result = run_cli("assess", EXAMPLE, "--format", "json").json
    assert list(result)[:9] == ["status", "physician_consult", "red_flags", "missing_items", "steps",
                                "discussion_points", "adjacent_levels", "months_since_fusion", "assessment_date"]
    assert {"ruleset", "trace", "disclaimer", "settings"} <= set(result)
    assert result["ruleset"] == {"name": "fbss-triage", "version": "2.1.0"}
    assert [step["step"] for step in result["steps"]] == [1, 2, 3, 4]
    assert "levels" not in {k for p in result["discussion_points"] if p["id"] != "regenerative_care" for k in p}
    assert all({"rule", "version", "source", "concluded", "inputs", "reason"} <= set(t) for t in result["trace"])


def test_stdin_and_as_of(monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"fusion_date": "2026-06"}')))
    run = run_cli("assess", "-", "--format", "json", "--as-of", "2026-11-24")
    assert run.code == 0, run.err
    assert run.json["status"] == "too_early" and run.json["assessment_date"] == "2026-11-24"


@pytest.mark.parametrize("args, content, expected", [
    (["--as-of", "2026-02-30"], "{}", "error: triage assess: argument --as-of: '2026-02-30' is not a real calendar date"),
    ([], "{\"fusion_date\": \"2026-02-30\"}", "error: triage assess: fusion_date: '2026-02-30' is not a real calendar date"),
    ([], "{\"fusion_dat\": \"2026-01\"}", "error: triage assess: fusion_dat: is not a question id (did you mean 'fusion_date'?)"),
    ([], "{\"a\": 1,}", "is not valid JSON"),
    ([], "", "is empty; expected a JSON object of answers"),
    ([], "[]", "error: triage assess: answers: must be a JSON object"),
    ([], "{\"veteran\": \"yes\", \"veteran\": \"no\"}", "key 'veteran' appears twice"),
    ([], "{\"pain_score\": NaN}", "pain_score: NaN is not a whole number from 0 to 10"),
    (["--format", "pdf"], "{}", "argument -f/--format: invalid choice"),
])
def test_bad_input_is_one_line_naming_the_problem_exit_2(tmp_path, args, content, expected):
    path = tmp_path / "answers.json"
    path.write_text(content, encoding="utf-8")
    run = run_cli("assess", str(path), *args)
    assert run.code == 2 and run.out == ""
    assert len(run.err.splitlines()) == 1 and expected in run.err, run.err
    assert path.read_text(encoding="utf-8") == content  # the input is never touched


def test_missing_file_and_folder(tmp_path):
    assert "error: triage assess: " + str(tmp_path / "nope.json") + ": cannot be read (no such file or directory)" in run_cli("assess", str(tmp_path / "nope.json")).err
    run = run_cli("assess", str(tmp_path))
    assert run.code == 2 and "is a folder" in run.err


def test_several_problems_one_line_each(answers_file):
    run = run_cli("assess", answers_file({"pain_score": 12, "fused_levels": ["L6-L7"], "colour": 1}))
    assert run.code == 2
    lines = run.err.splitlines()
    assert all(line.startswith("error: triage assess: ") for line in lines)
    assert sorted(line.split(":")[2].strip() for line in lines) == ["colour", "fused_levels", "pain_score"]


def test_internal_error_is_one_line_exit_70(monkeypatch, answers_file):
    import triage.decision.assess

    monkeypatch.setattr(triage.decision.assess, "assess_data", lambda *a: 1 / 0)
    run = run_cli("assess", answers_file({}))
    assert run.code == 70 and len(run.err.splitlines()) == 1 and "Traceback" not in run.err


def test_ctrl_c_exits_130(monkeypatch, answers_file):
    import triage.decision.assess

    def interrupted(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(triage.decision.assess, "assess_data", interrupted)
    run = run_cli("assess", answers_file({}))
    assert run.code == 130 and run.err == "interrupted\n"


def test_help_documents_every_command_and_the_exit_codes():
    run = run_cli("--help")
    assert run.code == 0
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = cli.build_parser()._subparsers._group_actions[0].choices
    for name, parser in commands.items():
        assert name in run.out
        assert parser.description, f"{name} has no description"
        assert f"triage {name}" in readme, f"README does not document triage {name}"
    assert exit_codes_text(ExitCode) in run.out  # every code, each with its one line of meaning


def all_parsers(parser, prefix=("triage",)):
    """(command words, parser) for triage and every subcommand, nested ones (audit verify) too."""
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from all_parsers(sub, (*prefix, name))


@pytest.mark.parametrize("words, parser", list(all_parsers(cli.build_parser())), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_help_lists_its_exit_codes_from_the_one_table(words, parser):
    """Each --help ends with the exit codes it can return, worded as ExitCode says or, for the codes
    every command shares, in the plain words of a command that keeps nothing (common.PLAIN_WORDS)
    unless the command gives its own."""
    text = run_cli(*words[1:], "--help").out
    listed = text[text.index("exit codes:"):]
    codes = [ExitCode(int(line.split()[0])) for line in listed.splitlines()[1:] if line[:3].strip().isdigit()]
    assert {ExitCode.OK, ExitCode.INVALID, ExitCode.INTERNAL, ExitCode.INTERRUPTED} <= set(codes)
    flat = " ".join(listed.split())
    for code in codes:
        if code not in PLAIN_WORDS:
            assert " ".join(code.meaning.split()) in flat, code


def test_readme_exit_code_table_is_the_one_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert exit_codes_markdown() in readme, "copy exit_codes_markdown() of triage/channels/cli/common.py into README.md"
    assert readme.count("| code | meaning |") == 1


def test_commands_that_can_return_a_code_list_it():
    assert "129" in run_cli("intake", "--help").out and "129" not in run_cli("assess", "--help").out
    assert "7 " in run_cli("audit", "verify", "--help").out
    assert "6 " in run_cli("assess", "--help").out


def test_rule_catalogue_lists_every_rule_with_its_source():
    catalogue = run_cli("rules", "--format", "json").json
    ruleset = load_ruleset()
    assert [r["id"] for r in catalogue["rules"]] == [r.id for r in ruleset.rules]
    for rule in catalogue["rules"]:
        assert {"id", "version", "title", "step", "rationale", "source", "source_title", "reads", "condition"} <= set(rule)
        assert rule["source"].split("#")[0] in catalogue["sources"]
    text = run_cli("rules").out
    markdown = run_cli("rules", "--format", "markdown").out
    assert all(rule.id in text and rule.id in markdown for rule in ruleset.rules)


def test_questions_vocabulary():
    data = run_cli("questions", "--format", "json").json
    assert [item["id"] for item in data["items"]][:3] == ["patient_id", "assessment_date", "fusion_date"]
    assert next(i for i in data["items"] if i["id"] == "pain_location")["allowed"] == "back, leg, back_and_leg"
    assert "red_flag_major_trauma" in run_cli("questions").out
    assert "| `mri_date` |" in run_cli("questions", "--format", "markdown").out


def test_checkout_entry_point_runs_from_another_directory(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "assess", EXAMPLE, "--format", "json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "ready_for_evaluation"


def test_installed_command_runs_from_another_directory(tmp_path):
    """`pip install .` must ship the definitions inside the package (CI installs it)."""
    command = shutil.which("triage", path=str(Path(sys.executable).parent))
    if command is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs the package, but no triage command is next to the interpreter")
        pytest.skip("package not installed in this interpreter's environment")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([command, "assess", EXAMPLE, "--format", "json"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ruleset"]["name"] == "fbss-triage"


def test_version_prints_program_ruleset_and_questionnaire():
    run = run_cli("--version")
    assert run.code == 0 and run.err == ""
    ruleset = load_ruleset().ruleset
    assert run.out.startswith("triage ") and f"ruleset {ruleset.name} {ruleset.version}" in run.out


@pytest.mark.parametrize("args, expected", [
    (("asses",), "error: triage: 'asses' is not a command (did you mean 'assess'?)"),
    (("frobnicate",), "error: triage: 'frobnicate' is not a command (one of: assess, batch, rules, questions, intake, list, show, export, audit, records, db, users, serve, invite)"),
    (("assess", EXAMPLE, "-f", "jsn"), "error: triage assess: argument -f/--format: invalid choice: 'jsn' (did you mean 'json'?)"),
    (("assess", EXAMPLE, "--bogus"), "error: triage assess: unrecognized arguments: --bogus"),
    (("audit", "verify", "--bogus"), "error: triage audit verify: unrecognized arguments: --bogus"),
    (("show", "1", "--version", "2"), "error: triage show: unrecognized arguments: --version 2 "
                                      "(--version: did you mean --intake-version?)"),
])
def test_usage_errors_name_the_command_and_suggest(args, expected):
    run = run_cli(*args)
    assert run.code == 2 and run.err == expected + "\n"


@pytest.mark.parametrize("words, parser", [(w, p) for w, p in all_parsers(cli.build_parser()) if len(w) > 1],
                         ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_argument_has_help_and_every_command_examples(words, parser):
    undocumented = [action.dest for action in parser._actions
                    if not action.help and not isinstance(action, argparse._SubParsersAction)]
    assert not undocumented
    assert "\nexamples:\n  triage " in run_cli(*words[1:], "--help").out


def test_several_files_one_result_each_clearly_separated(tmp_path, answers_file):
    red = str(ROOT / "examples" / "red-flag.json")
    broken = answers_file({"pain_score": 12}, "broken.json")
    text = run_cli("assess", red, broken, EXAMPLE)
    assert text.code == 2  # the worst of the files
    assert text.out.count("==> ") == 3 and f"==> {broken} <==\n(no result" in text.out
    assert text.out.count("Pre-consultation triage") == 2
    assert text.err.startswith(f"error: triage assess: {broken}: pain_score: ") and len(text.err.splitlines()) == 1
    listed = run_cli("assess", red, broken, "-f", "json")
    assert [("result" in d, "errors" in d) for d in listed.json] == [(True, False), (False, True)]
    assert listed.json[0]["file"] == red and listed.json[1]["errors"][0]["field"] == "pain_score"
    db = str(tmp_path / "t.db")
    saved = run_cli("assess", red, EXAMPLE, "--save", "--db", db, "-f", "json")
    assert saved.code == 0 and saved.err.count("saved: intake") == 2
    assert run_cli("assess", red, EXAMPLE, "--amend", "1", "--db", db).err.startswith("error: triage assess: --amend:")
