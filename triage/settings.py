"""Clinic settings: the two clinical intervals and the clinic's words in messages."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from triage.definitions import read_toml, shipped, validate

DEFAULT_SETTINGS = "default.toml"  # in the shipped settings/ folder, beside rules/ and questionnaires/


class Settings(BaseModel):
    # strict: `healing_window_months = true` must not be read as 1, nor "6" as 6 (a wrong type in a
    # clinical setting is refused, naming the key, never coerced).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    healing_window_months: int = Field(6, ge=1, le=36)
    mri_currency_months: int = Field(12, ge=1, le=60)
    clinic_name: str = Field("the spine clinic", min_length=1)
    clinic_phone: str = Field("the number on your appointment letter", min_length=1)
    emergency_number: str = Field("911", min_length=1)
    # How `triage intake` reads a typed date such as 6/10/2024 (month first, or day first). It changes
    # no result, so it is left out of the settings a result lists (exclude=True).
    date_order: Literal["MDY", "DMY"] = Field("MDY", exclude=True)
    # The web pages (`triage serve`) end a session idle this long; a patient's answers stay saved. They
    # change no result either.
    patient_idle_minutes: int = Field(15, ge=2, le=240, exclude=True)
    staff_idle_minutes: int = Field(30, ge=2, le=720, exclude=True)


def load_settings(path: Path | None = None) -> Settings:
    """Read a settings file (validated like every definition: a failure names the file and the
    setting); without one, the shipped defaults (PRODUCT.md's values)."""
    path = path or shipped("settings") / DEFAULT_SETTINGS
    return validate(Settings, read_toml(path), path)
