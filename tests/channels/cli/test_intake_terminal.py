"""`triage intake` as people use it: full interviews in a pseudo-terminal (pexpect), in both modes,
plus piped standard input and the failure paths (Ctrl-C, a closed terminal, bad files)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from datetime import date

import pexpect
import pytest

from conftest import ROOT, run_cli
from support.cli import TRIAGE

TODAY = date.today().isoformat()


def _env() -> dict[str, str]:
    env = {**os.environ, "TERM": "dumb", "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    env.pop("TRIAGE_SETTINGS", None)
    return env


def spawn(tmp_path, *args: str) -> pexpect.spawn:
    return pexpect.spawn(TRIAGE[0], ["intake", *args], cwd=str(tmp_path), env=_env(),
                         encoding="utf-8", timeout=15, dimensions=(50, 80))


def reply(child: pexpect.spawn, shown: str, typed: str, prompt: str = ": ") -> None:
    """Wait for ``shown`` and then the prompt's end, and type a line."""
    child.expect_exact(shown)
    child.expect_exact(prompt)
    child.sendline(typed)


def page_through(child: pexpect.spawn, last: str, rows: int, prompt: str = "Your answer: ") -> int:
    """Press Enter on each page of a review until its ``last`` page's instruction shows; every page,
    with its instruction and prompt, must fit ``rows`` lines. Returns the number of pages."""
    pages = 0
    while True:
        index = child.expect_exact(["Press Enter to see more of your answers", "Oprima Enter para ver más", last])
        page = child.before + child.after
        child.expect_exact(prompt)
        page += child.before + child.after
        pages += 1
        shown = page.replace("\r\n", "\n").removeprefix("\n").split("\n")  # the Enter that asked for it
        assert len(shown) <= rows, f"a review page of {len(shown)} lines: {page}"
        if index == 2:
            return pages
        child.sendline("")


def finished(child: pexpect.spawn) -> tuple[int, str]:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, child.before


def saved(path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_coordinator_full_intake(tmp_path):
    out = tmp_path / "c.json"
    child = spawn(tmp_path, "--out", out.name)
    child.expect_exact("Answers are saved to c.json after every answer.")
    reply(child, " 1/30 Patient reference", "P-9")
    reply(child, " 2/30 Assessment date", "")  # Enter: today
    reply(child, " 3/30 Fusion date", "2025-02-30")
    child.expect_exact("! '2025-02-30' is not a real calendar date")  # re-asked with the reason
    reply(child, " 3/30 Fusion date", "3/2024")
    child.expect_exact("= 2024-03")
    reply(child, " 4/30 Fused levels", "L4-5 L5-S1")
    reply(child, " 5/30 Operative report available", "y")
    reply(child, " 6/30 MRI since fusion available", "y")
    reply(child, " 7/30 MRI date", "<")  # back; the total did not grow when the MRI questions opened
    reply(child, " 6/30 MRI since fusion available (y/n/u) [yes]", "")
    reply(child, " 7/30 MRI date", "2025-09")
    reply(child, " 8/30 Annular tear levels", "L3-4")
    reply(child, " 9/30 Pain location", "3")
    child.expect_exact("= back+leg")  # a number is echoed as the choice it stands for
    reply(child, "10/30 Pain quality", "2 3")
    reply(child, "11/30 Pattern since surgery", "1")
    reply(child, "12/30 Worst pain", "11")
    child.expect_exact("! 11 is outside 0 to 10")
    reply(child, "12/30 Worst pain", "7")
    reply(child, "13/30 Known hardware problem", "u")
    reply(child, "14/30 Mechanical symptoms", "n")
    reply(child, "15/30 RF: new bladder/bowel problem", "y")
    child.expect_exact("RED FLAG (EMERGENCY) answered yes")  # the tier in words, not colour
    child.expect_exact("EMERGENCY. Tell the patient now: One of your answers")
    reply(child, "c = continue the intake, s = stop now", "c")
    for number in range(16, 25):
        reply(child, f"{number}/30 RF:", "n")
    reply(child, "25/30 Veteran", "y")  # veteran yes: the five VA questions are asked
    reply(child, "26/30 VA: enrolled in VA health care", "y")
    reply(child, "27/30 VA: drive over 60 min", "y")
    reply(child, "28/30 VA: wait over 28 days", "u")
    reply(child, "29/30 VA: no full VA facility in state", "n")
    reply(child, "30/30 VA: holds referral/authorization", "n")
    child.expect_exact("-- Review: 30 questions")
    child.expect_exact("yes  !! RED FLAG")
    reply(child, "Number to change, < back, Enter to finish", "6")
    reply(child, "MRI since fusion available (y/n/u) [yes]", "n")
    child.expect_exact("Now not asked (skip logic): MRI date; Annular tear levels (MRI report).")
    child.expect_exact("-- Review: 28 questions")
    child.expect_exact(" 7. Pain location")  # numbered as asked: 7 and 8 went, the ones after moved up
    reply(child, "", "", prompt="Number to change, < back, Enter to finish: ")  # 50 rows: one page
    child.expect_exact("URGENT")
    code, rest = finished(child)
    assert code == 0
    assert "Topics the physician may want to discuss" in rest  # the full coordinator result
    # taller than the 50-row screen: the URGENT banner is said again in the last lines
    assert "URGENT - EMERGENCY" in "\n".join(rest.strip().splitlines()[-12:])
    assert saved(out) == {
        "patient_id": "P-9", "assessment_date": TODAY, "fusion_date": "2024-03",
        "fused_levels": ["L4-L5", "L5-S1"], "surgical_report_available": "yes", "mri_available": "no",
        "pain_location": "back_and_leg", "pain_quality": ["burning", "shooting"],
        "pain_pattern_since_surgery": "never_improved", "pain_score": 7, "hardware_problem_known": "unknown",
        "mechanical_symptoms": "no", "red_flag_bladder_bowel": "yes", "red_flag_saddle_numbness": "no",
        "red_flag_sexual_function": "no", "red_flag_both_legs": "no", "red_flag_progressive_weakness": "no",
        "red_flag_clot_signs": "no", "red_flag_major_trauma": "no", "red_flag_fever_or_wound": "no",
        "red_flag_cancer_or_weight_loss": "no", "red_flag_immunosuppression": "no", "veteran": "yes",
        "va_enrolled": "yes", "va_drive_time_over_standard": "yes", "va_wait_over_standard": "unknown",
        "va_no_full_service_facility": "no", "va_referral": "no",
    }
    result = run_cli("assess", str(out), "--format", "json").json
    assert result["status"] == "urgent" and result["physician_consult"]["urgency"] == "emergency"
    assert result["discussion_points"][-1]["criteria"] == ["drive_time"]


def test_patient_full_intake_ends_with_a_patient_safe_summary(tmp_path):
    out = tmp_path / "p.json"
    child = spawn(tmp_path, "--mode", "patient", "--out", out.name)
    child.expect_exact('"I don\'t know" is always fine')
    child.expect_exact("Question 1 of 28")
    reply(child, "When was your fusion surgery?", "?", prompt="Your answer: ")
    child.expect_exact("The month and year are enough")
    reply(child, "", "2025-02-30", prompt="Your answer: ")
    child.expect_exact("That date does not exist on the calendar. Please check it.")
    reply(child, "", "06/2024", prompt="Your answer: ")
    child.expect_exact("Noted: June 2024.")
    reply(child, "Question 2 of 28", "u", prompt="Your answer: ")
    reply(child, "Question 3 of 28", "3", prompt="Your answer: ")  # the numbered "I don't know"
    reply(child, "Question 4 of 28", "1", prompt="Your answer: ")
    reply(child, "Question 5 of 28", "2026-01", prompt="Your answer: ")
    reply(child, "Question 6 of 28", "L3-L4", prompt="Your answer: ")
    reply(child, "Question 7 of 28", "2", prompt="Your answer: ")
    reply(child, "Question 8 of 28", "2 3", prompt="Your answer: ")
    reply(child, "Question 9 of 28", "<", prompt="Your answer: ")
    child.expect_exact("Question 8 of 28")
    reply(child, "Press Enter to keep your answer: Burning, Shooting or electric", "", prompt="Your answer: ")
    reply(child, "Question 9 of 28", "2", prompt="Your answer: ")
    reply(child, "Question 10 of 28", "8", prompt="Your answer: ")
    for number, typed in ((11, "2"), (12, "2"), (13, "2"), (14, "2"), (15, "2"), (16, "2"), (17, "1")):
        reply(child, f"Question {number} of 28", typed, prompt="Your answer: ")
    child.expect_exact("Please read this now")
    child.expect_exact("Call 911")
    reply(child, "Type c to continue", "c", prompt="Your answer: ")
    for number, typed in ((18, "2"), (19, "2"), (20, "2"), (21, "3")):
        reply(child, f"Question {number} of 28", typed, prompt="Your answer: ")
    # a later, less urgent yes (within days) never shows calmer words than the earlier emergency
    reply(child, "Question 22 of 28", "1", prompt="Your answer: ")
    child.expect_exact("Please read this now")
    child.expect_exact("Call 911")
    reply(child, "Type c to continue", "c", prompt="Your answer: ")
    reply(child, "Question 23 of 28", "1", prompt="Your answer: ")  # veteran: yes asks the five VA questions
    for number in range(24, 29):
        reply(child, f"Question {number} of 28", "3", prompt="Your answer: ")
    child.expect_exact("Your answers")
    reply(child, "Press Enter to see more of your answers", "", prompt="Your answer: ")  # page 2 holds 23
    reply(child, "Have you served in the U.S. armed forces?", "23", prompt="Your answer: ")
    reply(child, "Press Enter to keep your answer: Yes", "2", prompt="Your answer: ")
    child.expect_exact("Your answers")
    page_through(child, "Type the number of an answer to change it", 50)
    child.sendline("")
    child.expect_exact("Before your visit")
    code, summary = finished(child)
    assert code == 0
    assert "Call 911" in summary and "Please have these ready for your visit:" in summary
    assert "The operative report from your fusion surgery" in summary
    for coordinator_only in ("Topic for", "regenerative", "URGENT", "Decision steps", "ATTENTION", "[x]", "RF-"):
        assert coordinator_only not in summary
    answers = saved(out)
    assert answers["assessment_date"] == TODAY  # the intake day is recorded for patients
    assert answers["red_flag_progressive_weakness"] == "yes" and answers["veteran"] == "no"
    assert answers["red_flag_immunosuppression"] == "yes"
    assert not any(key.startswith("va_") for key in answers)  # veteran changed to no: VA answers removed
    assert answers["fused_levels"] == "unknown" and "pain_pattern_since_surgery" in answers
    assert "patient_id" not in answers


def test_red_flag_then_stop_keeps_everything(tmp_path):
    out = tmp_path / "p.json"
    child = spawn(tmp_path, "--mode", "patient", "--out", out.name)
    reply(child, "Question 1 of 28", "2024-05", prompt="Your answer: ")
    reply(child, "Question 2 of 28", "<", prompt="Your answer: ")
    reply(child, "Question 1 of 28", "", prompt="Your answer: ")
    for number in range(2, 11):
        reply(child, f"Question {number} of ", "u", prompt="Your answer: ")
    reply(child, "Question 11 of 26", "1", prompt="Your answer: ")  # bladder / bowel: yes
    reply(child, "Type c to continue", "s", prompt="Your answer: ")
    child.expect_exact("Before your visit")
    child.expect_exact("You stopped before the last question.")
    code, rest = finished(child)
    assert code == 0
    # how to come back, in words: never a path or a command for a patient
    assert "ask the front desk" in rest and "--resume" not in rest and "p.json" not in rest
    assert saved(out)["red_flag_bladder_bowel"] == "yes"
    assert saved(out)["fusion_date"] == "2024-05"


def test_ctrl_c_then_resume_loses_nothing(tmp_path):
    out = tmp_path / "r.json"
    child = spawn(tmp_path, "--out", out.name)
    reply(child, " 1/30 Patient reference", "P-5")
    reply(child, " 2/30 Assessment date", "")
    reply(child, " 3/30 Fusion date", "2024-01")
    reply(child, " 4/30 Fused levels", "L5-S1")
    child.expect_exact(" 5/30 Operative report available")
    child.expect_exact(": ")
    child.sendintr()
    child.expect_exact("Interrupted. Answers saved to r.json. Resume with: triage intake --mode "
                       "coordinator --resume r.json")
    code, _ = finished(child)
    assert code == 130
    assert saved(out) == {"patient_id": "P-5", "assessment_date": TODAY, "fusion_date": "2024-01",
                          "fused_levels": ["L5-S1"]}

    child = spawn(tmp_path, "--resume", out.name)
    child.expect_exact("Resuming at question 5 of 30.")
    reply(child, " 5/30 Operative report available", "n")
    reply(child, " 6/30 MRI since fusion available", "n")
    for typed in ("1", "1", "2", "5", "n", "n", *["n"] * 10, "n"):
        # no MRI: its two questions are no longer counted. The whole prompt is awaited: labels such
        # as "RF: ..." hold ": " too.
        child.expect(r"/28 [^\r\n]*\): ")
        child.sendline(typed)
    reply(child, "-- Review: 23 questions", "4", prompt="Number to change, < back, Enter to finish: ")
    reply(child, "Fused levels (e.g. L4-5 L5-S1, u) [L5-S1]", "<")  # back from a review change: to the review
    reply(child, "-- Review: 23 questions", "", prompt="Number to change, < back, Enter to finish: ")
    child.expect_exact("RECORDS NEEDED")
    code, _ = finished(child)
    assert code == 0
    answers = saved(out)
    assert answers["patient_id"] == "P-5" and answers["fused_levels"] == ["L5-S1"]  # the part before Ctrl-C
    assert answers["pain_score"] == 5 and answers["veteran"] == "no"
    assert len(answers) == 23


def test_closed_terminal_keeps_the_answers(tmp_path):
    out = tmp_path / "h.json"
    child = spawn(tmp_path, "--mode", "patient", "--out", out.name)
    reply(child, "Question 1 of 28", "2023-11", prompt="Your answer: ")
    child.expect_exact("Question 2 of 28")
    child.expect_exact("Your answer: ")
    child.kill(signal.SIGHUP)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 129
    assert saved(out) == {"assessment_date": TODAY, "fusion_date": "2023-11"}


def test_ctrl_d_at_a_prompt_is_a_pause_with_the_resume_command(tmp_path):
    out = tmp_path / "d.json"
    child = spawn(tmp_path, "--out", out.name)
    reply(child, " 1/30 Patient reference", "P-1")
    child.expect_exact(" 2/30 Assessment date")
    child.expect_exact(": ")
    child.sendeof()
    child.expect_exact("Input ended. Answers saved to")
    code, _ = finished(child)
    assert code == 130
    assert saved(out) == {"patient_id": "P-1"}


# --- piped standard input -------------------------------------------------------------------------

PIPED = ["P-2", "2026-11-24", "2024-03", "L4-S1", "y", "y", "09/2025", "L3-4", "3", "2 3", "1", "7",
         "n", "n", *["n"] * 10, "y", "y", "n", "y", "n", "n"]


def pipe(tmp_path, lines: list[str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*TRIAGE, "intake", *args], input="".join(f"{line}\n" for line in lines),
                          capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=30)


def test_piped_answers_one_per_line(tmp_path):
    out = tmp_path / "piped.json"
    run = pipe(tmp_path, PIPED, "--out", out.name)
    assert run.returncode == 0, run.stderr
    assert run.stdout.lstrip().startswith("╭") or "RECORDS NEEDED" in run.stdout  # only the result on stdout
    assert "RECORDS NEEDED" in run.stdout and "Patient reference" not in run.stdout
    assert run.stderr == "answers saved to piped.json\n"
    assert saved(out)["annular_tear_levels"] == ["L3-L4"] and saved(out)["veteran"] == "yes"
    assert saved(out)["fused_levels"] == ["L4-L5", "L5-S1"]  # the range L4-S1, expanded
    assert saved(out)["va_wait_over_standard"] == "yes" and saved(out)["va_referral"] == "no"
    assert run_cli("assess", str(out), "--format", "json").code == 0


def test_piped_patient_mode_prints_the_patient_summary(tmp_path):
    lines = ["2024-03", "L4-5", "y", "n", "1", "1", "1", "5", "n", "n", *["n"] * 8, "y", "n", "n"]
    run = pipe(tmp_path, lines, "--mode", "patient", "--out", "pp.json")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("Before your visit")
    assert "note: red flag answered yes (red_flag_cancer_or_weight_loss)" in run.stderr
    # a within-days flag: call the clinic today, never the emergency room for this answer (911 only in
    # the safety net that names the emergency signs), under the tier's own heading
    assert "Topic for" not in run.stdout and "within a few days" in run.stdout
    flat = " ".join(line.strip("| ") for line in run.stdout.splitlines())
    answer_part, safety_net = " ".join(flat.split()).split(" But if ")
    assert "911" not in answer_part and "emergency" not in run.stdout.lower()
    assert "- Tell the clinic team today -" in run.stdout and "Important" not in run.stdout  # the frame's title
    assert safety_net.startswith("you have new trouble passing urine")


def test_patient_mode_carries_a_patient_reference(tmp_path):
    lines = ["2024-03", "L4-5", "y", "n", "1", "1", "1", "5", "n", "n", *["n"] * 10, "n"]
    run = pipe(tmp_path, lines, "--mode", "patient", "--out", "pp.json", "--patient-id", "P-17")
    assert run.returncode == 0, run.stderr
    assert saved(tmp_path / "pp.json")["patient_id"] == "P-17"


@pytest.mark.parametrize("lines, message", [
    (PIPED[:2] + ["2025-02-30"] + PIPED[3:], "error: triage intake: fusion_date: '2025-02-30' is not a real calendar date "
                                            "(standard input line 3)"),
    (PIPED[:5], "error: triage intake: standard input: ended before question mri_available"),
    (PIPED + ["extra"], "error: triage intake: standard input: line 31 ('extra') comes after the last question"),
])
def test_piped_input_errors_exit_2_and_keep_the_answers(tmp_path, lines, message):
    out = tmp_path / "bad.json"
    run = pipe(tmp_path, lines, "--out", out.name)
    assert run.returncode == 2
    assert run.stderr.startswith(message), run.stderr
    assert "Traceback" not in run.stderr
    assert saved(out)["patient_id"] == "P-2"


# --- files -----------------------------------------------------------------------------------------

def test_resume_refuses_a_bad_file(answers_file):
    run = run_cli("intake", "--resume", answers_file({"fusion_date": "2025-02-30", "mri_availble": "yes"}))
    assert run.code == 2
    assert "error: triage intake: mri_availble: is not a question id (did you mean 'mri_available'?)" in run.err
    assert "error: triage intake: fusion_date: '2025-02-30' is not a real calendar date" in run.err


def test_resume_refuses_a_missing_or_broken_file(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert run_cli("intake", "--resume", str(broken)).err.startswith(f"error: triage intake: {broken}: is not valid JSON")
    missing = run_cli("intake", "--resume", str(tmp_path / "nope.json"))
    assert missing.code == 2 and "cannot be read" in missing.err


def test_out_never_overwrites_an_existing_file(answers_file):
    existing = answers_file({"veteran": "yes"})
    run = run_cli("intake", "--out", existing)
    assert run.code == 2 and "already exists; continue it with --resume" in run.err
    assert json.loads(open(existing).read()) == {"veteran": "yes"}


def test_by_default_the_intake_is_recorded_in_the_store(tmp_path):
    db = tmp_path / "clinic.db"
    run = pipe(tmp_path, PIPED, "--db", str(db))
    assert run.returncode == 0, run.stderr
    assert run.stderr == f"recorded as intake 1 version 1 in {db}\n"
    assert not list(tmp_path.glob("*.json"))  # no loose answers file
    listed = run_cli("list", "--db", str(db), "--format", "json").json
    assert [(i["intake_id"], i["status"]) for i in listed["intakes"]] == [(1, "records_needed")]
    shown = run_cli("show", "1", "--db", str(db), "--format", "json").json
    assert shown["answers"]["patient_id"] == "P-2"


def test_store_draft_survives_ctrl_c_and_resumes_by_id(tmp_path):
    db = tmp_path / "clinic.db"
    child = spawn(tmp_path, "--db", str(db))
    reply(child, "Patient reference", "P-9")
    reply(child, "Assessment date", "2026-11-24")
    reply(child, "Fusion date", "2024-03")
    child.expect_exact("Fused levels")
    child.sendintr()
    child.expect_exact(f"Resume with:")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert f"--resume-intake 1 --db {db}" in child.before.replace("\r\n", "")
    resumed = pipe(tmp_path, PIPED[3:], "--resume-intake", "1", "--db", str(db))
    assert resumed.returncode == 0, resumed.stderr
    shown = run_cli("show", "1", "--db", str(db), "--format", "json").json
    assert shown["answers"]["patient_id"] == "P-9" and shown["answers"]["fusion_date"] == "2024-03"


def test_answers_file_that_cannot_be_written_is_named(tmp_path):
    run = pipe(tmp_path, PIPED, "--out", "no-such-folder/a.json")
    assert run.returncode == 2
    assert run.stderr == "error: triage intake: no-such-folder/a.json: cannot be saved (no such file or directory)\n"
    assert run_cli("intake", "--resume", "-").err == "error: triage intake: --resume: needs a file name: the answers are saved " \
        "back to it after every answer\n"


def test_patient_words_at_80x24_review_pages_and_goes_back(tmp_path):
    """What a patient hit: developer wording in errors, "I don't know" with other numbers, a review
    longer than the screen, and < refused at the review."""
    out = tmp_path / "p.json"
    child = pexpect.spawn(TRIAGE[0], ["intake", "--mode", "patient", "--out", out.name], cwd=str(tmp_path),
                          env=_env(), encoding="utf-8", timeout=15, dimensions=(24, 80))
    reply(child, "Question 1 of 28", "12/2099", prompt="Your answer: ")
    child.expect_exact("That date is in the future. Please check it.")
    reply(child, "", "March 2024", prompt="Your answer: ")
    child.expect_exact("Noted: March 2024.")
    reply(child, "Question 2 of 28", "L4-5", prompt="Your answer: ")
    reply(child, "Question 3 of 28", "2", prompt="Your answer: ")
    child.expect_exact("Noted: No.")
    reply(child, "Question 4 of 28", "2", prompt="Your answer: ")  # no MRI: two questions fewer
    reply(child, "Question 5 of 26", "1", prompt="Your answer: ")
    reply(child, "Question 6 of 26", "2 3 5", prompt="Your answer: ")
    child.expect_exact("cannot go with other answers")
    reply(child, "", "2 3", prompt="Your answer: ")
    for number in range(7, 22):
        reply(child, f"Question {number} of 26", "u" if number == 8 else "2", prompt="Your answer: ")
    child.expect_exact("Your answers")
    page_through(child, "Type the number of an answer to change it", 24)  # a screenful at a time
    child.sendline("<")
    reply(child, "Have you served in the U.S. armed forces?", "1", prompt="Your answer: ")  # the last question again
    for number in range(22, 27):  # veteran yes now: the five VA questions it opens are asked
        reply(child, f"Question {number} of 26", "3", prompt="Your answer: ")
    child.expect_exact("Your answers")
    page_through(child, "Type the number of an answer to change it", 24)
    child.sendline("")
    code, summary = finished(child)
    assert code == 0 and "Before your visit" in summary
    assert saved(out)["veteran"] == "yes" and saved(out)["fusion_date"] == "2024-03"


def test_piped_b_is_never_a_silent_step_back(tmp_path):
    run = pipe(tmp_path, PIPED[:12] + ["b"] + PIPED[13:], "--out", "b.json")
    assert run.returncode == 2
    assert "error: triage intake: hardware_problem_known: 'b' is not an answer here; type y, n or u (standard input line 13)" \
        in run.stderr


# --- the review at 80x24 (issue 29) ---------------------------------------------------------------

@pytest.mark.parametrize(("mode", "lang", "last"), [
    ("patient", "en", "Type the number of an answer to change it"),
    ("patient", "es", "Escriba el número de una respuesta para cambiarla"),
    ("coordinator", "en", "Enter to finish: "),
])
def test_review_pages_fit_80x24_with_one_column_layout(tmp_path, mode, lang, last):
    """Every page of the review, with its instruction and prompt, fits 24 rows (a kiosk has no
    scrollback), no line is wider than 80, and the answers sit in the same column on every page."""
    answers = json.loads((ROOT / "examples" / "adjacent-tear.json").read_text(encoding="utf-8"))
    if mode == "patient":
        answers = {key: value for key, value in answers.items() if key not in ("patient_id", "assessment_date")}
    (tmp_path / "all.json").write_text(json.dumps(answers), encoding="utf-8")
    child = pexpect.spawn(TRIAGE[0], ["intake", "--mode", mode, "--lang", lang, "--resume", "all.json"],
                          cwd=str(tmp_path), env=_env(), encoding="utf-8", timeout=15, dimensions=(24, 80))
    prompt = "Su respuesta: " if lang == "es" else "Your answer: "
    if mode == "coordinator":
        child.expect_exact("-- Review: 30 questions --")
        pages, text = 0, ""
        while True:
            index = child.expect_exact(["Enter for more: ", "Enter to finish: "])
            page = child.before + child.after
            text += page
            pages += 1
            assert len(page.replace("\r\n", "\n").split("\n")) <= 24, page
            if index == 1:
                break
            child.sendline("")
    else:
        # what came before has scrolled ("Your answers are saved ..." is said at the start: match the intro)
        child.expect_exact("Por favor, revise sus respuestas." if lang == "es" else "Please check your answers.")
        pages = page_through(child, last, 22, prompt=prompt)  # 22: the heading and intro lines are above
        text = ""
    assert pages >= 2
    child.sendline("")
    code, rest = finished(child)
    assert code == 0
    if mode == "coordinator":
        lines = [line for line in text.replace("\r\n", "\n").split("\n") if re.match(r"\s*\d+\. ", line)]
        assert len(lines) == 30 and max(map(len, lines)) <= 80
        # one layout on every page: the answer column starts where it starts on the first page
        starts = {line.index("yes", 40) for line in lines if re.search(r"\. (Operative report|MRI since fusion|"
                                                                          r"VA: enrolled)", line)}
        assert len(starts) == 1, starts


def test_back_at_the_first_question_says_there_is_nothing_before_it(tmp_path):
    child = spawn(tmp_path, "--mode", "patient", "--out", "f.json")
    reply(child, "Question 1 of 28", "<", prompt="Your answer: ")
    child.expect_exact("This is the first question. There is no question before it.")
    reply(child, "Question 1 of 28", "u", prompt="Your answer: ")
    child.sendintr()
    finished(child)
