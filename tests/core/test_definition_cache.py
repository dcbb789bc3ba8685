"""Validated definitions kept between runs (triage/core/definition_cache.py): used only for the same bytes and
the same code, never when altered, never able to run code, never in a folder others can write."""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import subprocess
import sys

import pytest

from conftest import ROOT
from support.cli import SCRATCH
from triage.core import definition_cache
from triage.core.definitions import read_toml
from triage.core.errors import DefinitionError
from triage.core.ruleset import Ruleset, load_ruleset
from triage.core.settings import Settings, load_settings

RULES = ROOT / "rules" / "fbss-triage.toml"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("TRIAGE_CACHE_DIR", str(folder))
    monkeypatch.delenv("TRIAGE_CACHE", raising=False)
    return folder / "definitions"


@pytest.fixture
def reads(monkeypatch):
    """Counts the definition files parsed (a kept definition parses none)."""
    import triage.core.ruleset
    import triage.core.settings

    counted = []

    def counting(path):
        counted.append(path)
        return read_toml(path)

    monkeypatch.setattr(triage.core.ruleset, "read_toml", counting)
    monkeypatch.setattr(triage.core.settings, "read_toml", counting)
    return counted


def _entries(cache, model="Ruleset"):
    return sorted(cache.glob(f"{model}-*.pickle"))


def test_the_second_load_is_the_kept_one_and_equal_to_the_file(cache, reads):
    first = load_ruleset()
    second = load_ruleset()
    assert len(reads) == 1 and len(_entries(cache)) == 1
    assert second == first and second.fingerprint == first.fingerprint
    assert second == Ruleset.model_validate(read_toml(RULES))  # what the file says, validated afresh
    settings = load_settings(), load_settings()
    assert settings[0] == settings[1] and settings[1].text_data == settings[0].text_data
    assert len(reads) == 2


def test_folder_and_files_are_this_users_alone(cache):
    load_ruleset()
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700 and stat.S_IMODE(cache.parent.stat().st_mode) == 0o700
    assert [stat.S_IMODE(path.stat().st_mode) for path in _entries(cache)] == [0o600]


def test_an_edited_file_is_read_again(cache, tmp_path, reads):
    rules = tmp_path / "rules.toml"
    rules.write_bytes(RULES.read_bytes())
    before = load_ruleset(rules)
    rules.write_text(RULES.read_text(encoding="utf-8").replace('version = "2.1.0"', 'version = "2.1.1"', 1),
                     encoding="utf-8")
    after = load_ruleset(rules)
    assert len(reads) == 2 and after.ruleset.version == "2.1.1" != before.ruleset.version
    assert after.fingerprint != before.fingerprint and len(_entries(cache)) == 2


def test_other_code_reads_the_file_again(cache, reads, monkeypatch):
    load_ruleset()
    monkeypatch.setattr(definition_cache, "_code_digest", "0" * 64)  # as after an edit of triage/core/ruleset.py
    load_ruleset()
    assert len(reads) == 2 and len(_entries(cache)) == 2


def test_a_broken_file_is_never_kept(cache, tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES.read_text(encoding="utf-8").replace('eq = "yes"', 'eq = "maybe"', 1), encoding="utf-8")
    for _ in range(2):
        with pytest.raises(DefinitionError, match="never 'maybe'"):
            load_ruleset(rules)
    assert not _entries(cache)


@pytest.mark.parametrize("damage", ["truncated", "changed byte", "other key", "not ours"])
def test_a_damaged_or_foreign_entry_is_ignored_and_made_again(cache, reads, damage):
    expected = load_ruleset()
    entry = _entries(cache)[0]
    data = entry.read_bytes()
    if damage == "truncated":
        entry.write_bytes(data[:len(data) // 2])
    elif damage == "changed byte":
        entry.write_bytes(data[:-100] + bytes([data[-100] ^ 1]) + data[-99:])
    elif damage == "other key":
        entry.write_bytes(data.replace(data.split(b"\n")[1], b"f" * 64, 1))
    else:
        entry.chmod(0o644)  # readable by others: not used, whatever it holds
    assert load_ruleset() == expected
    assert len(reads) == 2  # read from the file again, and kept again
    assert load_ruleset() == expected and len(reads) == 2


def test_an_entry_naming_anything_but_a_definition_model_never_runs(cache, tmp_path, reads):
    """Even with a correct header and checksum (someone who can write the folder), unpickling stops at
    the first name that is not a definition model: nothing is called."""
    load_ruleset()
    entry = _entries(cache)[0]
    header = entry.read_bytes().split(b"\n")
    witness = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {witness}",))

    payload = pickle.dumps(Evil())
    entry.write_bytes(b"\n".join(header[:2]) + b"\n" + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    assert load_ruleset().ruleset.name == "fbss-triage"
    assert not witness.exists() and len(reads) == 2


def test_a_folder_others_can_write_is_not_used(cache, reads):
    cache.mkdir(parents=True)
    cache.chmod(0o777)
    load_ruleset()
    load_ruleset()
    assert len(reads) == 2 and not _entries(cache)


def test_no_usable_folder_still_loads(tmp_path, monkeypatch, reads):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TRIAGE_CACHE_DIR", str(blocker))
    assert load_ruleset().ruleset.name == "fbss-triage"


def test_the_cache_can_be_turned_off(cache, reads, monkeypatch):
    monkeypatch.setenv("TRIAGE_CACHE", "off")
    load_ruleset()
    load_ruleset()
    assert len(reads) == 2 and not cache.exists()


def test_old_entries_are_removed(cache, monkeypatch):
    for number in range(definition_cache.KEEP_PER_MODEL + 3):
        monkeypatch.setattr(definition_cache, "_code_digest", f"{number:064d}")
        load_settings()
    assert len(_entries(cache, "Settings")) == definition_cache.KEEP_PER_MODEL


def test_the_code_digest_covers_every_module_the_definitions_are_made_with():
    """Loading the rules and settings imports no module of the package outside CODE: a change to any
    module that shapes them changes the key."""
    script = ("import sys; import triage.core.ruleset, triage.core.settings; "
              "print(' '.join(sorted(m for m in sys.modules if m.startswith('triage.'))))")
    done = subprocess.run([sys.executable, "-c", script], cwd=SCRATCH, capture_output=True, text=True, check=True)
    loaded = {name.removeprefix("triage.core.") for name in done.stdout.split() if name != "triage.core"}
    assert loaded <= set(definition_cache.CODE)
    assert {"ruleset", "settings", "facts", "answers", "result_values"} <= loaded


def test_settings_kept_are_the_settings_of_the_file(cache):
    custom = cache.parent / "clinic.toml"
    custom.parent.mkdir(parents=True, exist_ok=True)
    custom.write_text('clinic_name = "Clínica \\"Columna\\""\nhealing_window_months = 9\n', encoding="utf-8")
    fresh = load_settings(custom)
    kept = load_settings(custom)
    assert kept == fresh == Settings.model_validate(read_toml(custom))
    assert kept.fingerprint == fresh.fingerprint and kept.json_data == fresh.json_data
