"""The languages patients can read: English (the definitions themselves) and translations of every
patient text, keyed by the same question and message ids (``questionnaires/fbss-intake.<lang>.toml``).

One definition: the English lives where it always did (the questionnaire's patient wording, the
rules' red-flag instructions and records to bring); a translation holds, for each of those texts, its
id and its words, nothing more and nothing less. A text missing from a translation, or a translated id
that names no patient text, is a load error naming the key (exit 3): a patient never gets a page that
is half one language, half another. Coordinator and clinician wording is English only and is never
translated (labels, results, rules).

A translation carries a review status (``pending_review`` until a qualified medical translator signs
it off): staff see it in ``triage questions``; patients never do.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from triage.core.definitions import read_toml, shipped, validate
from triage.core.errors import DefinitionError
from triage.core.language_names import DEFAULT_LANGUAGE, LANGUAGES, OWN_NAMES
from triage.core.questionnaire import Questionnaire
from triage.core.ruleset import RED_FLAG_TIERS, Ruleset
from triage.core.settings import US_STATES_AND_TERRITORIES, Settings

TRANSLATED_LANGUAGES = tuple(code for code in LANGUAGES if code != DEFAULT_LANGUAGE)
ReviewStatus = Literal["pending_review", "reviewed"]
# Clinic settings whose shipped defaults are words a patient may read, so a translation gives them too.
WORDED_SETTINGS = ("clinic_name", "clinic_phone")


class _Review(BaseModel):
    """What every translation file's header says of itself: its language and its review."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str = Field(pattern=r"^[a-z]{2}$")
    review_status: ReviewStatus
    reviewed_by: str = ""
    reviewed_on: str = Field("", pattern=r"^(\d{4}-\d{2}-\d{2})?$")


class TranslationInfo(_Review):
    questionnaire: str
    questionnaire_version: str = Field(pattern=r"^\d+\.\d+\.\d+$")


class _Header(BaseModel):  # so that a problem is named translation.<field>
    model_config = ConfigDict(extra="forbid", frozen=True)

    translation: TranslationInfo


def translation_path(language: str) -> Path:
    return shipped("questionnaires") / f"fbss-intake.{language}.toml"


# ---------------------------------------------------------------------------------------------
# Every patient text, by key

def patient_texts(questionnaire: Questionnaire, ruleset: Ruleset) -> dict[str, str]:
    """Every text a patient can read, by key (``items.fusion_date.help``, ``patient_wording.errors.date``,
    ``messages.instructions_emergency``, ...), from the definitions *before* clinic settings are filled
    in (placeholders kept). Only questions patients are asked; coordinator-only ones are staff text."""
    info = questionnaire.questionnaire
    texts = {f"questionnaire.{name}": getattr(info, name)
             for name in ("title", "patient_intro", "patient_outro", "unknown_text")}
    texts.update(_flatten("patient_wording", questionnaire.patient_wording.model_dump()))
    texts.update({f"sections.{section.id}.patient_title": section.patient_title for section in questionnaire.sections})
    for item in questionnaire.items:
        if "patient" not in item.audience:
            continue
        texts[f"items.{item.id}.text"] = item.text
        texts[f"items.{item.id}.help"] = item.help
        texts.update({f"items.{item.id}.options.{option.value}": option.text for option in item.options})
    texts.update({f"messages.instructions_{tier}": ruleset.messages.instructions(tier) for tier in RED_FLAG_TIERS})
    texts["messages.bring_va_referral"] = ruleset.messages.bring_va_referral
    texts.update({f"missing_items.{key}.to_bring": item.to_bring for key, item in ruleset.missing_items.items()})
    return texts


def _flatten(prefix: str, data: Any) -> dict[str, str]:
    if isinstance(data, dict):
        flat: dict[str, str] = {}
        for key, value in data.items():
            flat.update(_flatten(f"{prefix}.{key}", value))
        return flat
    return {prefix: data}


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


# ---------------------------------------------------------------------------------------------
# A translation

@dataclass(frozen=True)
class Translation:
    info: TranslationInfo
    texts: dict[str, str]  # key -> translated text, exactly the keys of patient_texts()
    settings_words: dict[str, str]  # worded clinic settings, used while the clinic keeps the default
    places: dict[str, str]  # postal code -> place name
    or_word: str  # between the last two places
    path: Path

    @property
    def language(self) -> str:
        return self.info.language


def load_translation(language: str, questionnaire: Questionnaire, ruleset: Ruleset,
                     path: Path | None = None) -> Translation:
    """Read and check one translation against the English definitions: every patient text once, no
    other key, the same placeholders, the same questionnaire version. Raises DefinitionError naming
    the file and the key."""
    if language not in TRANSLATED_LANGUAGES:
        raise DefinitionError(f"language {language!r}: not one of {', '.join(LANGUAGES)}")
    path = path or translation_path(language)
    data = read_toml(path)
    if "translation" not in data:
        raise DefinitionError(f"{path}: [translation]: is missing")
    info = validate(_Header, {"translation": data.pop("translation")}, path).translation
    if info.language != language:
        raise DefinitionError(f"{path}: translation.language: is {info.language!r}, not {language!r}")
    q = questionnaire.questionnaire
    if info.questionnaire != q.id or info.questionnaire_version != q.version:
        raise DefinitionError(f"{path}: translation.questionnaire_version: translates {info.questionnaire} "
                              f"{info.questionnaire_version}, not {q.id} {q.version} (translate and review "
                              f"the changed texts, then update it)")
    settings_words = _strings(path, "settings", data.pop("settings", None), WORDED_SETTINGS)
    places = _strings(path, "places", data.pop("places", None), (*US_STATES_AND_TERRITORIES, "or"))
    or_word = places.pop("or")

    english = patient_texts(questionnaire, ruleset)
    translated = _flatten("", data)
    translated = {key.lstrip("."): value for key, value in translated.items()}
    check_texts(path, language, english, translated, "a patient text of the questionnaire or the rules")
    return Translation(info=info, texts={key: translated[key] for key in english}, settings_words=settings_words,
                       places=places, or_word=or_word, path=path)


def check_texts(path: Path, language: str, english: dict[str, str], translated: dict[str, Any],
                what: str) -> None:
    """The one check every translation gets: each English text once, no other key, a non-empty text,
    the English placeholders exactly. Raises DefinitionError naming the file and the first key."""
    missing = [key for key in english if key not in translated]
    if missing:
        raise DefinitionError(f"{path}: {missing[0]}: missing (every patient text needs its "
                              f"{LANGUAGES[language]} text; there is no fallback to English)")
    extra = sorted(key for key in translated if key not in english)
    if extra:
        raise DefinitionError(f"{path}: {extra[0]}: is not {what} (a typo, or a text that no longer exists)")
    for key, text in translated.items():
        if not isinstance(text, str) or not text.strip():
            raise DefinitionError(f"{path}: {key}: must be a non-empty text")
        try:
            found = _placeholders(text)
        except ValueError as error:
            raise DefinitionError(f"{path}: {key}: {error}") from None
        expected = _placeholders(english[key])
        if found != expected:
            raise DefinitionError(f"{path}: {key}: placeholders {sorted(found)} differ from the English "
                                  f"{sorted(expected)}")


# ---------------------------------------------------------------------------------------------
# The web pages' own words (questionnaires/fbss-web.<lang>.toml): page titles, buttons, errors of
# each kind of field, notices. Checked exactly like the questionnaire's translation; the web layer
# reads them (triage.channels.web.messages), this module only checks them.

class WebTranslationInfo(_Review):
    web: str
    web_version: str = Field(pattern=r"^\d+\.\d+\.\d+$")


class _WebHeader(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    translation: WebTranslationInfo


def web_translation_path(language: str) -> Path:
    return shipped("questionnaires") / f"fbss-web.{language}.toml"


def web_translation_info(language: str, path: Path | None = None) -> WebTranslationInfo:
    """The review status of the web pages' translation (for staff catalogues; the texts themselves are
    checked in full where they are used, by the web layer)."""
    path = path or web_translation_path(language)
    data = read_toml(path)
    if "translation" not in data:
        raise DefinitionError(f"{path}: [translation]: is missing")
    return validate(_WebHeader, {"translation": data["translation"]}, path).translation


def load_web_translation(language: str, english: dict[str, str], *, web_id: str, web_version: str,
                         path: Path | None = None) -> tuple[WebTranslationInfo, dict[str, str]]:
    """The web pages' texts in ``language``, checked against the English ones (``english``: message
    id -> text, from fbss-web.toml): the same ids, the same placeholders, the same web text version.
    Raises DefinitionError naming the file and the key; never falls back to English."""
    if language not in TRANSLATED_LANGUAGES:
        raise DefinitionError(f"language {language!r}: not one of {', '.join(LANGUAGES)}")
    path = path or web_translation_path(language)
    data = read_toml(path)
    if "translation" not in data:
        raise DefinitionError(f"{path}: [translation]: is missing")
    info = validate(_WebHeader, {"translation": data.pop("translation")}, path).translation
    if info.language != language:
        raise DefinitionError(f"{path}: translation.language: is {info.language!r}, not {language!r}")
    if info.web != web_id or info.web_version != web_version:
        raise DefinitionError(f"{path}: translation.web_version: translates {info.web} {info.web_version}, not "
                              f"{web_id} {web_version} (translate and review the changed texts, then update it)")
    messages = data.pop("messages", None)
    if not isinstance(messages, dict):
        raise DefinitionError(f"{path}: [messages]: is missing")
    if data:
        raise DefinitionError(f"{path}: {sorted(data)[0]}: is not a table of a web translation")
    check_texts(path, language, english, {f"{key}": value for key, value in messages.items()},
                "a message id of the web pages")
    return info, {key: messages[key] for key in english}


def _strings(path: Path, table: str, data: Any, keys: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(data, dict):
        raise DefinitionError(f"{path}: [{table}]: is missing")
    for key in keys:
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise DefinitionError(f"{path}: {table}.{key}: missing")
    extra = sorted(key for key in data if key not in keys)
    if extra:
        raise DefinitionError(f"{path}: {table}.{extra[0]}: is not a {table} key")
    return dict(data)


# ---------------------------------------------------------------------------------------------
# Applying it

def translate_questionnaire(questionnaire: Questionnaire, translation: Translation) -> Questionnaire:
    """The same questionnaire (ids, types, skip logic, coordinator labels) with the patient wording in
    the translation's language. ``questionnaire`` is the definition before settings are filled in."""
    texts = translation.texts
    info = questionnaire.questionnaire.model_copy(update={
        name: texts[f"questionnaire.{name}"] for name in ("title", "patient_intro", "patient_outro", "unknown_text")})
    wording_data = questionnaire.patient_wording.model_dump()
    for key, value in texts.items():
        if key.startswith("patient_wording."):
            node = wording_data
            *parents, last = key.split(".")[1:]
            for parent in parents:
                node = node[parent]
            node[last] = value
    wording = type(questionnaire.patient_wording).model_validate(wording_data)
    sections = tuple(section.model_copy(update={"patient_title": texts[f"sections.{section.id}.patient_title"]})
                     for section in questionnaire.sections)
    items = []
    for item in questionnaire.items:
        if "patient" not in item.audience:
            items.append(item)
            continue
        options = tuple(option.model_copy(update={"text": texts[f"items.{item.id}.options.{option.value}"]})
                        for option in item.options)
        items.append(item.model_copy(update={"text": texts[f"items.{item.id}.text"],
                                             "help": texts[f"items.{item.id}.help"], "options": options}))
    translated = questionnaire.model_copy(update={"questionnaire": info, "patient_wording": wording,
                                                  "sections": sections, "items": tuple(items)})
    translated._language = translation.language
    return translated


def translate_patient_texts(ruleset: Ruleset, translation: Translation) -> Ruleset:
    """The same ruleset whose patient texts (red-flag instructions, records to bring) are in the
    translation's language: for what a patient reads only, never for assessing (a copy of a ruleset is
    a different ruleset to the engine)."""
    texts = translation.texts
    messages = ruleset.messages.model_copy(update={
        **{f"instructions_{tier}": texts[f"messages.instructions_{tier}"] for tier in RED_FLAG_TIERS},
        "bring_va_referral": texts["messages.bring_va_referral"]})
    missing = {key: item.model_copy(update={"to_bring": texts[f"missing_items.{key}.to_bring"]})
               for key, item in ruleset.missing_items.items()}
    return ruleset.model_copy(update={"messages": messages, "missing_items": missing})


def text_values(settings: Settings, translation: Translation | None) -> dict[str, object]:
    """The clinic settings as a translated text reads them: place names in the language, and the
    shipped default wording of worded settings (a clinic's own value is kept as it is)."""
    values = settings.text_values()
    if translation is None:
        return values
    defaults = Settings()
    for name in WORDED_SETTINGS:
        if getattr(settings, name) == getattr(defaults, name):
            values[name] = translation.settings_words[name]
    names = [translation.places[code] for code in settings.va_no_full_service_facility_states]
    if names:
        values["va_no_full_service_facility_places"] = (
            f"{', '.join(names[:-1])} {translation.or_word} {names[-1]}" if len(names) > 1 else names[0])
    return values


@dataclass(frozen=True)
class PatientLanguage:
    """What a patient reads, in one language: the questionnaire (clinic settings filled in), the
    ruleset for its patient texts, the clinic settings as those texts read them, and the review
    status of the translation (None for English, the source language)."""

    language: str
    questionnaire: Questionnaire
    texts: Ruleset  # patient texts only; assess with the original ruleset
    values: dict[str, object]
    review_status: ReviewStatus | None
    translation: Translation | None


def load_language(language: str, *, questionnaire: Questionnaire, ruleset: Ruleset, settings: Settings,
                  check_all: bool = True) -> PatientLanguage:
    """Patient texts in ``language``. ``questionnaire`` is the definition before settings (see
    ``questionnaire.load_definition``). With ``check_all`` every shipped translation is checked too,
    so that a broken one fails at load in any language, not only when a patient picks it."""
    translations = {}
    for code in TRANSLATED_LANGUAGES if check_all else ([language] if language != DEFAULT_LANGUAGE else []):
        translations[code] = load_translation(code, questionnaire, ruleset)
    if language == DEFAULT_LANGUAGE:
        return PatientLanguage(language, questionnaire.with_settings(settings), ruleset, settings.text_values(),
                               None, None)
    if language not in LANGUAGES:
        raise DefinitionError(f"language {language!r}: not one of {', '.join(LANGUAGES)}")
    translation = translations[language]
    values = text_values(settings, translation)
    translated = translate_questionnaire(questionnaire, translation).with_values(values)
    return PatientLanguage(language, translated, translate_patient_texts(ruleset, translation), values,
                           translation.info.review_status, translation)
