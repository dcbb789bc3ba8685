"""The patient-facing texts of the web pages, from one definition keyed by message id
(``questionnaires/fbss-web.toml``), and its translations (``fbss-web.<lang>.toml``, the same ids,
checked by triage.core.languages: a missing or extra id is a load error naming it, never a fallback).
Templates and code name texts only by id; an unknown id raises (tests render every page, so a typo
cannot reach a patient as an empty string)."""

from __future__ import annotations

import string
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from triage.core.definitions import read_toml, shipped, validate

DEFAULT_MESSAGES = "fbss-web.toml"


class _Definition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebInfo(_Definition):
    id: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    language: str = Field(pattern=r"^[a-z]{2}$")


class WebMessages(_Definition):
    web: WebInfo
    messages: dict[str, str]

    @field_validator("messages")
    @classmethod
    def _well_formed(cls, messages: dict[str, str]) -> dict[str, str]:
        for key, text in messages.items():
            if not text.strip():
                raise ValueError(f"{key}: empty text")
            for _, name, _, _ in string.Formatter().parse(text):
                if name is not None and not name.isidentifier():
                    raise ValueError(f"{key}: placeholder {{{name}}} is not a name")
        return messages

    def text(self, message_id: str, **values: object) -> str:
        try:
            template = self.messages[message_id]
        except KeyError:
            raise KeyError(f"no web message {message_id!r} in {self.web.id}") from None
        return template.format(**values) if values else template

    def has(self, message_id: str) -> bool:
        return message_id in self.messages


def load_messages(path: Path | None = None, language: str | None = None,
                  translation_path: Path | None = None) -> WebMessages:
    """The web texts in English (``language`` None or "en") or in a translated language."""
    from triage.core.languages import DEFAULT_LANGUAGE, load_web_translation

    path = path or shipped("questionnaires") / DEFAULT_MESSAGES
    english = validate(WebMessages, read_toml(path), path)
    if language is None or language == DEFAULT_LANGUAGE:
        return english
    info, texts = load_web_translation(language, english.messages, web_id=english.web.id,
                                       web_version=english.web.version, path=translation_path)
    return WebMessages(web=WebInfo(id=english.web.id, version=english.web.version, language=info.language),
                       messages=texts)


def load_all_messages() -> dict[str, WebMessages]:
    """The web texts in every language a patient may choose (each translation checked at load)."""
    from triage.core.languages import LANGUAGES

    return {code: load_messages(language=code) for code in LANGUAGES}
