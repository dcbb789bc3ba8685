"""The floor pipeline: `triage batch` without the rules. Same reading, chunking, worker processes and
writing (triage.channels.batch.run_batch); each line is only validated (parse_json + parse_answers) and a
result-shaped record is serialised (the answers as given, plus line and patient_id). The engine's
overhead is the batch's time over this one's.

    python benchmarks/floor_batch.py IN.jsonl --out OUT.jsonl [--workers N]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from triage.channels import batch  # noqa: E402
from triage.core.answers import parse_answers  # noqa: E402
from triage.core.errors import InvalidInput  # noqa: E402
from triage.core.files import parse_json  # noqa: E402
from triage.core.ruleset import load_ruleset  # noqa: E402
from triage.core.settings import load_settings  # noqa: E402
from triage.channels.cli.batch import default_workers  # noqa: E402


def floor_line(number: int, data: bytes | None, config: batch.BatchConfig) -> tuple[str, str]:
    if data is None:
        return batch.INVALID_INPUT, batch.error_record(number, batch.INVALID_INPUT, [])
    raw = None
    try:
        raw = parse_json(data, "answers")
        answers = parse_answers(raw, today=config.today, as_of=config.as_of)
    except InvalidInput as error:
        return batch.INVALID_INPUT, batch.error_record(number, batch.INVALID_INPUT, error.problems)
    record = {"line": number, "patient_id": answers.patient_id, "status": "not_assessed",
              "answers": answers.answered()}
    return "not_assessed", json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("--out", required=True)
    parser.add_argument("--workers", type=int, default=default_workers())
    args = parser.parse_args(argv)
    config = batch.BatchConfig(load_ruleset(), load_settings(), date.today())
    source, _ = batch.open_input(args.file)
    output = batch.Output(args.out, args.file)
    with source:
        summary = batch.run_batch(source, output.stream, config, workers=args.workers, line_function=floor_line)
    output.commit()
    print(f"{summary.lines} lines", dict(summary.counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
