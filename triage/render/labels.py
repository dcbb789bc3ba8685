"""Status words and marks, and which rules concluded what: shared by every rendering (terminal,
Markdown, HTML, web pages). No rich here, so the web layer can use it without the terminal's stack.
Every status is spelled out in words and marks, so nothing depends on colour."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from triage.result import Result, Status, StepStatus

BANNERS = {
    Status.urgent: ("!! URGENT: RED FLAG ANSWERED YES !!", "bold white on red"),
    Status.too_early: ("TOO EARLY: inside the post-operative healing window", "bold black on yellow"),
    Status.records_needed: ("RECORDS NEEDED before evaluation", "bold black on yellow"),
    Status.ready_for_evaluation: ("READY FOR EVALUATION", "bold black on green"),
}
STEP_MARKS = {
    StepStatus.done: ("[x]", "done", "green"),
    StepStatus.to_do: ("[ ]", "to do", ""),
    StepStatus.attention: ("[!]", "ATTENTION", "bold yellow"),
    StepStatus.not_applicable: ("[-]", "not applicable", "dim"),
}


def rules_by_conclusion(result: Result) -> dict[tuple[str, str], list[str]]:
    """(kind, value) -> ids of the rules that concluded it, e.g. ("missing", "current_mri")."""
    index: dict[tuple[str, str], list[str]] = defaultdict(list)
    for entry in result.trace:
        for kind, value in entry.concluded.items():
            key = (kind, f"{entry.step}:{value}" if kind == "step_status" else str(value))
            index[key].append(entry.rule)
    return index


def basis_text(ids: list[str]) -> str:
    return f"[{', '.join(ids)}]" if ids else ""


def status_reasons(result: Result) -> list[str]:
    """Why the result is too early (until when); other statuses are explained by their own lists."""
    if result.status != Status.too_early:
        return []
    return [f"{e.reason} [{e.rule}]" for e in result.trace if e.concluded.get("status") == Status.too_early.value]


def provenance(doc: dict[str, Any]) -> str:
    """Where an exported version came from (an export document of triage/export.py)."""
    if doc["deidentified"]:
        return f"De-identified export (HIPAA Safe Harbor: identifiers removed, dates reduced to the year); recorded {doc['recorded_year']}."
    return (f"Intake {doc['intake_id']} version {doc['version']}, recorded {doc['recorded_at']} by "
            f"{doc['recorded_by']} (from {doc['source']}).")

