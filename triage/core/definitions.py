"""Finding and reading the definition files (questionnaires, rules, clinic settings) shipped with the package.

In a checkout they live at the top level (``rules/``, ``questionnaires/``, ``settings/``); ``pip install`` puts the
same folders inside the package (see pyproject.toml), so the code looks in both places.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from triage.core.errors import DefinitionError

_PACKAGE = Path(__file__).resolve().parent.parent  # triage/, where the shipped definitions are
Model = TypeVar("Model", bound=BaseModel)


def shipped(folder: str) -> Path:
    """The folder of shipped definitions: inside the installed package, else the checkout's."""
    for candidate in (_PACKAGE / folder, _PACKAGE.parent / folder):
        if candidate.is_dir():
            return candidate
    raise DefinitionError(f"{folder}/: the shipped definitions are missing from this installation")


def read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # only when a file is read (definitions kept between runs are not: triage.core.definition_cache)

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DefinitionError(f"{path}: cannot read ({error.strerror or error})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise DefinitionError(f"{path}: not valid TOML ({error})") from None


def validate(model: type[Model], data: dict[str, Any], path: Path) -> Model:
    """Validate a definition; a failure names the file and the item (e.g. ``rules[3] (RF-01).when``)."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        raise DefinitionError(f"{path}: {_location(data, first['loc'])}: {_message(first)}") from None


def _location(data: Any, loc: tuple) -> str:
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int):
            label = f"[{key}]"
            if isinstance(node, list) and key < len(node) and isinstance(node[key], dict) and "id" in node[key]:
                label += f" ({node[key]['id']})"
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(key))
        node = node[key] if isinstance(node, (dict, list)) and _has(node, key) else None
    return "".join(parts) or "top level"


def _has(node: dict | list, key: Any) -> bool:
    return key in node if isinstance(node, dict) else isinstance(key, int) and key < len(node)


def _message(detail: dict) -> str:
    return str(detail.get("msg", "is not valid")).removeprefix("Value error, ")
