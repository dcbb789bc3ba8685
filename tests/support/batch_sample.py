"""A sample of generated intakes and what `triage batch` writes for each line, as SHA-256 digests kept in
tests/data/speed/batch-sample.sha256 (made by the code before the batch's fast paths, and since then
only by `python tests/regen.py batch` when a rule or text was meant to change).

Two configurations: the shipped settings, and clinic settings that change every interval and word a
result names (quotes, accents and braces in the clinic's words)."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DIGESTS = ROOT / "tests" / "data" / "speed" / "batch-sample.sha256"
LINES = 1200
SEED = 41
BROKEN_EVERY = 97  # a dozen broken lines of every kind among them
CLINIC = {
    "healing_window_months": 9,
    "mri_currency_months": 6,
    "va_drive_time_standard_minutes": 45,
    "va_wait_standard_days": 20,
    "va_no_full_service_facility_states": ["AK", "PR"],
    "clinic_name": 'Clínica "Columna" {norte}',
    "clinic_phone": "555-0100 ext. 7",
    "emergency_number": "112",
}


def _generate():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import generate
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return generate


def lines() -> list[bytes]:
    return [line.encode() for line in _generate().lines(LINES, seed=SEED, broken_every=BROKEN_EVERY)]


def configurations():
    from triage.channels import batch
    from triage.core.ruleset import load_ruleset
    from triage.core.settings import Settings, load_settings

    today = _generate().ASSESSMENT_DATE
    ruleset = load_ruleset()
    return {
        "shipped": batch.BatchConfig(ruleset, load_settings(), today),
        "clinic": batch.BatchConfig(ruleset, Settings.model_validate({**CLINIC, "va_no_full_service_facility_states":
                                                                       tuple(CLINIC["va_no_full_service_facility_states"])}), today),
    }


def digest(record: str) -> str:
    return hashlib.sha256(record.encode("utf-8")).hexdigest()[:16]  # 64 bits: a changed byte is found


def records() -> list[tuple[str, int, str]]:
    """(configuration, line number, record) for every sample line, as `triage batch` writes them."""
    from triage.channels import batch

    made = []
    for name, config in configurations().items():
        for number, data in enumerate(lines(), 1):
            made.append((name, number, batch.triage_line(number, data, config)[1]))
    return made


def write() -> Path:
    DIGESTS.parent.mkdir(parents=True, exist_ok=True)
    DIGESTS.write_text("".join(f"{name} {number} {digest(record)}\n" for name, number, record in records()),
                       encoding="utf-8")
    return DIGESTS
