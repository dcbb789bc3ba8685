"""CDS Hooks: the `[cds_hooks]` configuration (triage/interop/cds_hooks/config.py) and the routes it turns on
in `triage serve`.
"""

from __future__ import annotations

import pytest
from flask import Flask

from support.cds_hooks_support import BASE_URL, ISSUER, SERVICE_URL
from support.cds_hooks_support import client, ehr, make_client  # noqa: F401 (fixtures)
from triage.interop.cds_hooks import load_config
from triage.core.errors import DefinitionError
from triage.channels.web.cds_hooks import init_app


def test_config_file_with_a_relative_jwks_path(tmp_path):
    (tmp_path / "ehr.json").write_text("{}", encoding="utf-8")
    path = tmp_path / "cds.toml"
    path.write_text(f'[cds_hooks]\nbase_url = "{BASE_URL}/"\n'
                    f'[[cds_hooks.clients]]\nissuer = "{ISSUER}"\njwks = "ehr.json"\n', encoding="utf-8")
    config = load_config(path)
    assert config.base_url == BASE_URL
    assert config.clients[0].jwks == str(tmp_path / "ehr.json")
    assert config.service_url() == SERVICE_URL


@pytest.mark.parametrize("text, words", [
    ('base_url = "http://triage.clinic.example"', "cds_hooks.base_url: base_url must use https"),
    ('base_url = "https://x.example"\nclients = []', "cds_hooks.clients"),
    ('base_url = "https://x.example"\nsecret = 1\n[[cds_hooks.clients]]\nissuer = "a"\njwks = "b"', "cds_hooks.secret"),
])
def test_a_broken_config_names_the_item(tmp_path, text, words):
    path = tmp_path / "cds.toml"
    path.write_text(f"[cds_hooks]\n{text}\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match=words.replace(".", r"\.")):
        load_config(path)


def test_unconfigured_app_has_no_cds_routes(monkeypatch):
    monkeypatch.delenv("TRIAGE_CDS_HOOKS", raising=False)
    app = Flask("test")
    init_app(app)
    assert app.test_client().get("/cds-services").status_code == 404


def test_triage_serve_s_app_carries_the_cds_hooks_routes_only_when_configured(tmp_path, monkeypatch):
    """`triage serve` builds its app with create_app: with TRIAGE_CDS_HOOKS the service answers there
    (and asks for the EHR's JWT), without it the routes do not exist."""
    from triage.channels.web.app import create_app

    (tmp_path / "ehr.json").write_text('{"keys": []}', encoding="utf-8")
    config = tmp_path / "cds.toml"
    config.write_text(f'[cds_hooks]\nbase_url = "{BASE_URL}/"\n'
                      f'[[cds_hooks.clients]]\nissuer = "{ISSUER}"\njwks = "ehr.json"\n', encoding="utf-8")
    monkeypatch.delenv("TRIAGE_CDS_HOOKS", raising=False)
    plain = create_app(store_path=tmp_path / "a.db").test_client()
    assert plain.get("/cds-services").status_code == 404
    monkeypatch.setenv("TRIAGE_CDS_HOOKS", str(config))
    served = create_app(store_path=tmp_path / "b.db").test_client()
    assert served.get("/cds-services").status_code == 401  # the route exists; no JWT, no answer
    assert served.post("/cds-services/fbss-preconsultation-summary", json={}).status_code == 401
