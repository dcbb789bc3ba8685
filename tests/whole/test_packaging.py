"""What ships is what is tested: the suite imports the installed package, and the wheel holds every file
the code loads at run time (templates, static files, definitions, translations, settings).

A wheel once lacked templates/staff/*.html (a flat glob in pyproject.toml): every staff page answered
500 in a clinic's install while the suite, importing the checkout, stayed green."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import triage
from conftest import ROOT, SOURCE, checkout_modules
from support.cli import TRIAGE, installed_env
from support.packaging import PLACES, build_wheel

FROM_SOURCE = os.environ.get("TRIAGE_TEST_SOURCE") == "1"


def shipped_files() -> set[str]:
    """Every file of the checkout that the package must carry, as its path inside the wheel."""
    wanted = set()
    for folder, place in PLACES.items():
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                if folder != "triage" and path.suffix != ".toml":
                    continue  # the definition folders ship their TOML files only
                wanted.add(f"{place}/{path.relative_to(ROOT / folder).as_posix()}")
    return wanted


def test_the_suite_imports_the_installed_package_not_the_checkout():
    if FROM_SOURCE:
        pytest.skip("TRIAGE_TEST_SOURCE=1: an editable install on a developer machine")
    assert not Path(triage.__file__).resolve().is_relative_to(SOURCE), triage.__file__
    assert checkout_modules() == []


def test_the_installed_package_holds_every_runtime_file():
    if FROM_SOURCE:
        pytest.skip("TRIAGE_TEST_SOURCE=1: an editable install has no file list to compare")
    # The record beside the imported package (a checkout's own fbss_triage.egg-info, left by pip's
    # in-tree build, must not stand in for it if the checkout comes onto sys.path).
    (info,) = Path(triage.__file__).resolve().parent.parent.glob("fbss_triage-*.dist-info")
    installed = {str(path) for path in metadata.Distribution.at(info).files or []}
    missing = sorted(shipped_files() - installed)
    assert missing == [], f"in the checkout but not installed: {missing}"
    assert "triage/channels/web/templates/staff/sign_in.html" in installed  # the file that was once left out


def test_the_built_wheel_holds_every_runtime_file_and_passes_check_wheel_contents(tmp_path):
    """Build the wheel from a clean copy of what the build reads, then compare it and lint it."""
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(shipped_files() - names)
    assert missing == [], f"in the checkout but not in the wheel: {missing}"
    linter = Path(sys.executable).parent / "check-wheel-contents"
    checked = subprocess.run([str(linter), str(wheel)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_channel_runs_from_an_unrelated_folder(tmp_path):
    """The installed command, started outside the checkout with nothing of it importable, loads the
    definitions, translations, settings and both sets of web templates."""
    env = installed_env(TRIAGE_DB=str(tmp_path / "store" / "triage.db"))
    run = lambda *args, **kw: subprocess.run([*TRIAGE, *args], cwd=tmp_path, env=env, capture_output=True,  # noqa: E731
                                             text=True, timeout=120, **kw)
    assert run("rules").returncode == 0
    assert run("questions", "-f", "fhir", "--lang", "es", "--audience", "patient").returncode == 0
    assert "fbss-intake" in run("questions", "-f", "fhir").stdout
    done = run("assess", str(ROOT / "examples" / "red-flag.json"), "--save")
    assert done.returncode == 0 and "URGENT" in done.stdout, done.stderr
    probe = ("import sys; from triage.channels.web.app import create_app; app = create_app(store_path=sys.argv[1]); "
             "names = app.jinja_env.list_templates(); print(len([n for n in names if n.startswith('staff/')])); "
             "[app.jinja_env.get_template(n) for n in names]")
    loaded = subprocess.run([sys.executable, "-P", "-c", probe, str(tmp_path / "store" / "triage.db")], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    assert int(loaded.stdout) >= 10  # the staff pages' templates, every one of them parsed
