"""The languages a patient may choose, by code. Only names: building the command line reads them without
loading any definition (``triage.core.languages`` loads and checks the translations)."""

from __future__ import annotations

DEFAULT_LANGUAGE = "en"
# The languages a patient may choose, with their names as staff read them (English) and as a patient
# reads them in a language switch (each in its own language).
LANGUAGES: dict[str, str] = {"en": "English", "es": "Spanish"}
OWN_NAMES: dict[str, str] = {"en": "English", "es": "Español"}
