"""CDS Hooks over HTTP: a thin Flask blueprint around :class:`triage.interop.cds_hooks.CdsHooksService`.

Routes: `GET /cds-services` (discovery), `POST /cds-services/<id>` (the service) and `GET /rules`,
the rule catalogue every card's `source.url` points to (public: rules, no patient data). Errors are JSON
`{"error": ...}` with the status the core chose (400, 401, 404, 412, 413, 503); a 401 says only that the
request is not authorized (which check failed goes to the log). The JWT is verified before the body is
read. The log line of a
call holds the service id, status, outcome, card indicator, issuer and hookInstance: never the
patient id, the body or a token.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, request

from triage.interop.cds_hooks import MAX_BODY_BYTES, BadRequest, CdsHooksConfig, CdsHooksError, CdsHooksService, load_config
from triage.core.errors import InvalidInput
from triage.core.files import parse_json

log = logging.getLogger("triage.cds_hooks")
CONFIG_ENV = "TRIAGE_CDS_HOOKS"


def create_blueprint(service: CdsHooksService) -> Blueprint:
    blueprint = Blueprint("cds_hooks", __name__)

    @blueprint.get("/cds-services")
    def discovery() -> Response:
        try:
            document = service.discovery(request.headers.get("Authorization"))
        except CdsHooksError as error:
            return _error(error, "discovery")
        log.info("cds-hooks discovery 200")
        return _json(document, 200)

    @blueprint.post("/cds-services/<service_id>")
    def call(service_id: str) -> Response:
        body = None
        try:
            # The token first: the body (up to 1 MiB) is read and parsed only for a verified caller.
            claims = service.authorize(service_id, request.headers.get("Authorization"))
            body = _body()
            outcome = service.answer(claims, body)
        except CdsHooksError as error:
            return _error(error, service_id)
        indicators = ",".join(card["indicator"] for card in outcome.cards) or "none"
        instance = body.get("hookInstance") if isinstance(body, dict) else None
        log.info("cds-hooks %s 200 %s cards=%s hookInstance=%s", service_id, outcome.outcome, indicators,
                 instance if isinstance(instance, str) and len(instance) <= 64 else "-")
        return _json({"cards": outcome.cards}, 200)

    @blueprint.get("/rules")
    def rule_catalogue() -> Response:
        response = Response(catalogue_page(service.ruleset), 200, content_type="text/html; charset=utf-8")
        response.headers["Cache-Control"] = "no-cache"
        return response

    return blueprint


def catalogue_page(ruleset) -> str:
    """The rule catalogue as one plain page (the same facts as `triage rules`): each rule under an
    anchor of its id, with step, condition, conclusion, fields read, source and rationale."""
    from markupsafe import escape

    info = ruleset.ruleset
    parts = [
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">',
        f"<title>Rule catalogue: {escape(info.name)} {escape(info.version)}</title></head><body><main>",
        f"<h1>Rule catalogue: {escape(info.title)}</h1>",
        f"<p>Ruleset <code>{escape(info.name)}</code> version {escape(info.version)}, released "
        f"{escape(info.released)} ({escape(info.validation_status)}). Decision support only: every result "
        "recommends a physician consult.</p>",
    ]
    for rule in ruleset.rules:
        source = ruleset.sources[rule.source.split("#")[0]]
        concludes = ", ".join(f"{key} = {value}" for key, value in rule.then.as_dict().items())
        rows = (("Step", rule.step or "-"), ("When", rule.when.describe()), ("Concludes", concludes),
                ("Reads", ", ".join(rule.reads) or "nothing (always applies)"),
                ("Source", f"{source.title} ({rule.source})"), ("Rationale", rule.rationale))
        parts.append(f'<section id="{escape(rule.id)}"><h2>{escape(rule.id)} v{rule.version}: {escape(rule.title)}</h2><dl>')
        parts += [f"<dt>{name}</dt><dd>{escape(value)}</dd>" for name, value in rows]
        parts.append("</dl></section>")
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def _body() -> Any:
    # A prefetched Bundle is larger than any form: this route's own limit (Flask 3.1 reads it per
    # request), whatever the app allows its pages.
    request.max_content_length = MAX_BODY_BYTES
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise _TooLarge("the request body is over 1 MiB")
    data = request.stream.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise _TooLarge("the request body is over 1 MiB")
    try:
        return parse_json(data, "request body")
    except InvalidInput as error:
        raise BadRequest(str(error.problems[0])) from None


class _TooLarge(CdsHooksError):
    status = 413


def _json(document: Any, status: int) -> Response:
    # In the order built (summary before detail), as the specification's examples show a card.
    response = Response(json.dumps(document, ensure_ascii=False), status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


UNAUTHORIZED = "the request is not authorized"  # every 401 says only this; the reason is logged


def _error(error: CdsHooksError, where: str) -> Response:
    log.warning("cds-hooks %s %d %s", where, error.status, error.message)
    if error.status == 401:
        # A caller without a valid token learns nothing about which check failed.
        response = _json({"error": UNAUTHORIZED}, 401)
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    return _json({"error": error.message}, error.status)


def init_app(app: Flask, config: CdsHooksConfig | str | Path | None = None, **service_options: Any) -> None:
    """Register the CDS Hooks routes when configured: ``config``, else ``app.config["CDS_HOOKS"]``, else
    the file named by ``TRIAGE_CDS_HOOKS``. Without any, nothing is registered (the routes are 404)."""
    config = config or app.config.get("CDS_HOOKS") or os.environ.get(CONFIG_ENV)
    if not config:
        return
    if not isinstance(config, CdsHooksConfig):
        config = load_config(Path(config))
    app.register_blueprint(create_blueprint(CdsHooksService(config, **service_options)))
