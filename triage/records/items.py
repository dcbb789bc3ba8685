"""The record items a coordinator tracks (rules/record-items.toml, reviewed as data): for each missing
record item of the result, the short form a received record fills in and the answer each field sets
(triage.records.requests uses it)."""

# No `from __future__ import annotations` (pydantic reads the annotations; see triage/core/settings.py).

from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

RECORD_ITEMS_FILE = "record-items.toml"  # in the shipped rules/ folder


class FormField(BaseModel):
    """One line of the receive form: the answer it sets, fixed (``value``) or read from the record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1)
    answer: str
    value: str | None = None  # fixed: set whenever the record is received
    required: bool = False  # read from the record: must be given when receiving

    @model_validator(mode="after")
    def _fixed_or_read(self) -> "FormField":
        if self.value is not None and self.required:
            raise ValueError("a field with a fixed value is not also entered (drop `required`)")
        return self


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    fields: tuple[FormField, ...] = Field(min_length=1)

    @property
    def entered(self) -> tuple[FormField, ...]:
        """The fields staff read from the record (the form's inputs)."""
        return tuple(field for field in self.fields if field.value is None)


class Header(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    source: str


class RecordItems(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    record_items: Header
    items: dict[str, Item]

    @model_validator(mode="after")
    def _known(self) -> "RecordItems":
        from triage.core.answers import QUESTION_IDS
        from triage.core.result_values import MISSING_IDS

        for item_id, item in self.items.items():
            if item_id not in MISSING_IDS:
                raise ValueError(f"items.{item_id}: not a missing-item id of the result ({', '.join(MISSING_IDS)})")
            for field in item.fields:
                if field.answer not in QUESTION_IDS:
                    raise ValueError(f"items.{item_id}.fields ({field.id}): {field.answer!r} is not a question id")
            ids = [field.id for field in item.fields]
            if len(set(ids)) != len(ids):
                raise ValueError(f"items.{item_id}.fields: an id is used twice")
        return self


@cache
def load_record_items(path: Path | None = None) -> RecordItems:
    """The shipped record items (validated like every definition: a failure names the file and field)."""
    from triage.core.definitions import read_toml, shipped, validate

    path = path or shipped("rules") / RECORD_ITEMS_FILE
    return validate(RecordItems, read_toml(path), path)


@cache
def load_record_items(path: Path | None = None) -> RecordItems:
    """The shipped record items (validated like every definition: a failure names the file and field)."""
    from triage.core.definitions import read_toml, shipped, validate

    path = path or shipped("rules") / RECORD_ITEMS_FILE
    return validate(RecordItems, read_toml(path), path)
