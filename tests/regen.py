"""Regenerate reviewed test data from the current code. Review the diff before committing: these
files change only when a rendering or a rule was meant to change, and are never edited by hand.

    python tests/regen.py golden   # tests/data/golden/*: `triage assess` text and Markdown renderings
    python tests/regen.py intake   # tests/data/golden/intake/*: the patient-safe intake summaries (en, es/)
                               # and whole Spanish terminal intakes
    python tests/regen.py web      # tests/data/golden/web/es/*.html: each kind of patient web page in Spanish
    python tests/regen.py rules    # tests/data/review/rules.json: run only after the rules were reviewed
    python tests/regen.py batch    # tests/data/speed/batch-sample.sha256: batch records of generated intakes
    python tests/regen.py wording  # tests/data/review/wording-<version>.md: changed patient texts side by side
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS), str(TESTS.parent)]


def golden() -> list[Path]:
    from support.golden_cases import GOLDEN, cases, render

    GOLDEN.mkdir(exist_ok=True)
    written = []
    for source, fmt, target in cases():
        target.write_text(render(source, fmt), encoding="utf-8")
        written.append(target)
    return written


def intake() -> list[Path]:
    import tempfile

    from support.intake_golden import CASES, LANGUAGES, TRANSCRIPTS, golden_path, render, transcript

    written = []
    for language in LANGUAGES:
        for name in CASES:
            target = golden_path(name, language)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(render(name, language=language), encoding="utf-8")
            written.append(target)
    for name in TRANSCRIPTS:  # whole terminal intakes, run in a pseudo-terminal
        with tempfile.TemporaryDirectory() as folder:
            screen, _ = transcript(name, Path(folder))
        target = golden_path(name, TRANSCRIPTS[name][0])
        target.write_text(screen, encoding="utf-8")
        written.append(target)
    return written


def web() -> list[Path]:
    from support.web_golden import golden_path, render_all

    written = []
    for name, page in render_all().items():
        target = golden_path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page, encoding="utf-8")
        written.append(target)
    return written


def rules() -> list[Path]:
    from support.review_rules import write_record

    return [write_record()]


def batch() -> list[Path]:
    from support.batch_sample import write

    return [write()]


def wording() -> list[Path]:
    from support.wording_review import write_record

    return [write_record()]


KINDS = {"golden": golden, "intake": intake, "web": web, "rules": rules, "batch": batch, "wording": wording}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in KINDS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for path in KINDS[argv[0]]():
        print(f"wrote {path.relative_to(TESTS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
