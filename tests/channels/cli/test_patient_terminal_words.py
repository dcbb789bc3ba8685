"""What a patient reads in the terminal when an intake ends early comes from the language files, in
the patient's language, and never shows a file path or a shell command: Ctrl-C and Ctrl-D at several
steps, stopping after a warning sign, and a store that fails mid-intake. Coordinators still get the
exact resume command (tests/channels/cli/test_intake_terminal.py)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pexpect
import pytest

from support.cli import TRIAGE, installed_env
from triage.core.languages import load_language
from triage.core.questionnaire import load_definition
from triage.core.ruleset import load_ruleset
from triage.core.settings import load_settings

WORDING = {lang: load_language(lang, questionnaire=load_definition(), ruleset=load_ruleset(),
                               settings=load_settings()).questionnaire.patient_wording for lang in ("en", "es")}
PROMPT = {"en": "Your answer: ", "es": "Su respuesta: "}
PROGRESS = {"en": "Question {n} of ", "es": "Pregunta {n} de "}
# Words of the coordinator's English lines: none may reach a Spanish patient.
ENGLISH = re.compile(r"\b(Interrupted|Input ended|Answers saved|Resume with|intake \d+ in|saved to|"
                     r"recorded as|error)\b", re.IGNORECASE)
COMMANDS = re.compile(r"(--\w|\btriage\b|cli\.py|python|\.db\b|\.json\b|/)")


def spawn(tmp_path, lang: str, *args: str) -> pexpect.spawn:
    env = installed_env(TERM="dumb", NO_COLOR="1", PYTHONIOENCODING="utf-8")
    env.pop("TRIAGE_SETTINGS", None)
    return pexpect.spawn(TRIAGE[0], ["intake", "--mode", "patient", "--lang", lang, *args], cwd=str(tmp_path),
                         env=env, encoding="utf-8", timeout=20, dimensions=(50, 100))


LAST = 21  # "I don't know" to the MRI and to the veteran question leaves their 2 and 5 follow-ups out


def answer_up_to(child, lang: str, step: int) -> None:
    """Answer "I don't know" (or a date) until question ``step`` (past the last: the review) is on
    screen and waiting."""
    for number in range(1, min(step, LAST + 1)):
        child.expect_exact(PROGRESS[lang].format(n=number))
        child.expect_exact(PROMPT[lang])
        child.sendline("2024-05" if number == 1 else "ns" if lang == "es" else "u")
    child.expect_exact(PROGRESS[lang].format(n=step) if step <= LAST else WORDING[lang].review_title)
    child.expect_exact(PROMPT[lang])


def screen(child) -> str:
    child.expect(pexpect.EOF)
    child.close()
    return " ".join(child.before.replace("\r\n", "\n").split())


def assert_patient_words_only(text: str, tmp_path, lang: str) -> None:
    assert str(tmp_path) not in text
    assert not COMMANDS.search(text), COMMANDS.search(text).group(0)
    if lang == "es":
        assert not ENGLISH.search(text), ENGLISH.search(text).group(0)


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("step", [1, 2, 11, LAST, LAST + 1])
def test_ctrl_c_at_any_step_says_saved_and_how_to_come_back_in_words(tmp_path, lang, step):
    child = spawn(tmp_path, lang, "--db", str(tmp_path / "clinic.db"))
    answer_up_to(child, lang, step)
    child.sendintr()
    text = screen(child)
    assert child.exitstatus == 130
    wording = WORDING[lang]
    assert wording.interrupted in text and wording.come_back_code.format(code=1) in text
    assert_patient_words_only(text, tmp_path, lang)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_ctrl_d_says_saved_and_ask_the_front_desk(tmp_path, lang):
    child = spawn(tmp_path, lang, "--out", "answers.json")
    answer_up_to(child, lang, 3)
    child.sendeof()
    text = screen(child)
    assert child.exitstatus == 130
    wording = WORDING[lang]
    assert wording.input_ended in text and wording.come_back_desk in text
    assert_patient_words_only(text, tmp_path, lang)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_stopping_after_a_warning_sign_says_how_to_come_back(tmp_path, lang):
    child = spawn(tmp_path, lang, "--db", str(tmp_path / "clinic.db"))
    answer_up_to(child, lang, 11)
    child.sendline("1")  # bladder / bowel: yes
    child.expect_exact(WORDING[lang].red_flag_choice[:20])  # (the line wraps)
    child.expect_exact(PROMPT[lang])
    child.sendline("p" if lang == "es" else "s")
    text = screen(child)
    assert child.exitstatus == 0
    wording = WORDING[lang]
    assert wording.stopped in text and wording.saved_done in text
    assert wording.come_back_code.format(code=1) in text
    assert wording.tier_heading_emergency in text
    assert_patient_words_only(text, tmp_path, lang)


# The store fails on the third save (the draft is saved once before the first question): the intake
# runs as installed, with StoreDraft.save replaced in that process only.
FAILING_STORE = """
import sys
from triage.records import drafts
from triage.core.errors import Conflict, StoreError
from triage.channels.cli.main import main
real, calls = drafts.StoreDraft.save, []
def save(self, answers):
    calls.append(1)
    if len(calls) == 3:
        raise {error}("database disk image is malformed: /var/lib/triage/clinic.db")
    return real(self, answers)
drafts.StoreDraft.save = save
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("error, code, sentence", [("StoreError", 5, "save_failed"),
                                                   ("Conflict", 6, "changed_elsewhere")])
def test_a_store_that_fails_mid_intake_gets_a_plain_sentence(tmp_path, lang, error, code, sentence):
    env = installed_env(TERM="dumb", NO_COLOR="1", PYTHONIOENCODING="utf-8")
    python = str(Path(TRIAGE[0]).with_name("python"))
    child = pexpect.spawn(python, ["-c", FAILING_STORE.format(error=error), "intake", "--mode", "patient",
                                   "--lang", lang, "--db", str(tmp_path / "clinic.db")],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=20, dimensions=(50, 100))
    answer_up_to(child, lang, 2)
    child.sendline("u")
    text = screen(child)
    assert child.exitstatus == code
    assert getattr(WORDING[lang], sentence) in text
    assert "malformed" not in text
    assert_patient_words_only(text, tmp_path, lang)
    if error == "Conflict":  # nothing lost: this session's answers are in a file staff can resume
        rescued = list(tmp_path.glob("*.json"))
        assert len(rescued) == 1 and "2024-05" in rescued[0].read_text(encoding="utf-8")


# The intake is recorded, then the end cannot be shown (standard output full): exit 8. The patient
# reads, in their language, that the answers are saved and their number, never "WAS saved", an exit
# code or `triage show`.
UNSHOWABLE_END = """
import sys
from triage.decision import patient_summary
from triage.channels.cli.common import OutputError
from triage.channels.cli.main import main
def render(*args, **kwargs):
    raise OutputError(OSError(28, "No space left on device"))
patient_summary.render_patient_summary = render
sys.exit(main(sys.argv[1:]))
"""


def finish_review(child, lang: str) -> None:
    """Press Enter through the review's pages until the intake ends."""
    while True:
        child.sendline("")
        if child.expect_exact([PROMPT[lang], pexpect.EOF]) == 1:
            return


@pytest.mark.parametrize("lang", ["en", "es"])
def test_saved_but_the_end_cannot_be_shown_says_saved_in_words(tmp_path, lang):
    env = installed_env(TERM="dumb", NO_COLOR="1", PYTHONIOENCODING="utf-8")
    python = str(Path(TRIAGE[0]).with_name("python"))
    child = pexpect.spawn(python, ["-c", UNSHOWABLE_END, "intake", "--mode", "patient", "--lang", lang,
                                   "--db", str(tmp_path / "clinic.db")],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=20, dimensions=(50, 100))
    answer_up_to(child, lang, LAST + 1)
    finish_review(child, lang)
    text = " ".join(child.before.replace("\r\n", "\n").split())
    child.close()
    assert child.exitstatus == 8
    wording = WORDING[lang]
    assert wording.saved_not_shown in text and wording.come_back_code.format(code=1) in text
    assert "WAS saved" not in text and "space" not in text
    assert_patient_words_only(text, tmp_path, lang)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_store_that_cannot_be_opened_at_the_start_gets_a_plain_sentence(tmp_path, lang):
    store = tmp_path / "clinic.db"
    store.write_text("not a database, just text\n" * 200, encoding="utf-8")
    child = spawn(tmp_path, lang, "--db", str(store))
    text = screen(child)
    assert child.exitstatus == 5
    assert WORDING[lang].store_unavailable in text
    assert_patient_words_only(text, tmp_path, lang)


def test_a_kiosk_that_logs_standard_error_keeps_the_store_error_for_staff(tmp_path):
    """Standard error sent to a log (not the patient's screen): the store's own line is kept there,
    and the patient still reads their sentence on the screen."""
    store = tmp_path / "clinic.db"
    store.write_text("not a database, just text\n" * 200, encoding="utf-8")
    env = installed_env(TERM="dumb", NO_COLOR="1", PYTHONIOENCODING="utf-8")
    child = pexpect.spawn("sh", ["-c", f'"{TRIAGE[0]}" intake --mode patient --db "{store}" 2>>kiosk.log'],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=20)
    screen_text = screen(child)
    assert child.exitstatus == 5
    assert WORDING["en"].store_unavailable in screen_text
    assert_patient_words_only(screen_text, tmp_path, "en")
    log = (tmp_path / "kiosk.log").read_text(encoding="utf-8")
    assert log == f"error: triage intake: store: {store}: is not a triage store (not an SQLite database, or damaged)\n"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_patients_sentence_is_wrapped_to_a_narrow_screen(tmp_path, lang):
    store = tmp_path / "clinic.db"
    store.write_text("not a database, just text\n" * 200, encoding="utf-8")
    env = installed_env(TERM="dumb", NO_COLOR="1", PYTHONIOENCODING="utf-8")
    env.pop("COLUMNS", None)
    child = pexpect.spawn(TRIAGE[0], ["intake", "--mode", "patient", "--lang", lang, "--db", str(store)],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=20, dimensions=(24, 40))
    child.expect(pexpect.EOF)
    child.close()
    lines = child.before.replace("\r\n", "\n").strip("\n").split("\n")
    assert len(lines) > 1 and all(len(line) < 40 for line in lines), lines  # never cut by the terminal
    assert " ".join(lines) == WORDING[lang].store_unavailable


def test_the_not_the_configured_store_warning_is_for_staff_not_the_patient(tmp_path):
    """The warning that this store is not the service's names two stores and a file: kept off the
    patient's screen (a coordinator's intake still shows it, tests/whole/test_operations.py)."""
    conf = tmp_path / "triage.toml"
    conf.write_text('[serve]\ndb = "configured.db"\n', encoding="utf-8")
    env = installed_env(TERM="dumb", NO_COLOR="1", PYTHONIOENCODING="utf-8", TRIAGE_CONFIG=str(conf))
    env.pop("TRIAGE_SETTINGS", None)
    child = pexpect.spawn(TRIAGE[0], ["intake", "--mode", "patient", "--db", str(tmp_path / "kiosk.db")],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=20, dimensions=(50, 100))
    child.logfile_read = everything = io.StringIO()  # the whole screen, from the first line
    answer_up_to(child, "en", 2)
    child.sendintr()
    screen(child)
    assert child.exitstatus == 130
    text = " ".join(everything.getvalue().split())
    assert "warning" not in text and "configured" not in text and str(tmp_path) not in text



# Anything else that fails once the questions have started (here the rules engine, at the end): the
# patient reads that their answers so far are saved, in their language; never "error: ... engine".
ENGINE_FAILS = """
import sys
from triage.decision import assess
from triage.core.errors import EngineError
from triage.channels.cli.main import main
def broken(*args, **kwargs):
    raise EngineError("safety invariant broken: rule STEP-9 in /srv/rules/fbss.toml")
assess.assess = broken
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("lang", ["en", "es"])
def test_any_other_failure_after_the_start_says_the_answers_are_saved_in_words(tmp_path, lang):
    env = installed_env(TERM="dumb", NO_COLOR="1", PYTHONIOENCODING="utf-8")
    python = str(Path(TRIAGE[0]).with_name("python"))
    child = pexpect.spawn(python, ["-c", ENGINE_FAILS, "intake", "--mode", "patient", "--lang", lang,
                                   "--db", str(tmp_path / "clinic.db")],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=20, dimensions=(50, 100))
    answer_up_to(child, lang, LAST + 1)
    finish_review(child, lang)
    text = " ".join(child.before.replace("\r\n", "\n").split())
    child.close()
    assert child.exitstatus == 4  # the exit code still says what happened
    assert WORDING[lang].went_wrong in text
    assert "STEP-9" not in text and "engine" not in text
    assert_patient_words_only(text, tmp_path, lang)
