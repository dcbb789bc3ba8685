"""CDS Hooks over HTTP: a thin Flask blueprint around :class:`triage.cds_hooks.CdsHooksService`.

Routes: `GET /cds-services` (discovery) and `POST /cds-services/<id>` (the service). Errors are JSON
`{"error": ...}` with the status the core chose (400, 401, 404, 412, 413, 503). The log line of a
call holds the service id, status, outcome, card indicator, issuer and hookInstance: never the
patient id, the body or a token.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from triage.cds_hooks import MAX_BODY_BYTES, BadRequest, CdsHooksConfig, CdsHooksError, CdsHooksService, load_config
from triage.errors import InvalidInput
from triage.files import parse_json

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
        try:
            body = _body()
            outcome = service.call(service_id, request.headers.get("Authorization"), body)
        except CdsHooksError as error:
            return _error(error, service_id)
        indicators = ",".join(card["indicator"] for card in outcome.cards) or "none"
        instance = body.get("hookInstance") if isinstance(body, dict) else None
        log.info("cds-hooks %s 200 %s cards=%s hookInstance=%s", service_id, outcome.outcome, indicators,
                 instance if isinstance(instance, str) and len(instance) <= 64 else "-")
        return _json({"cards": outcome.cards}, 200)

    return blueprint


def _body() -> Any:
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
    response = jsonify(document)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _error(error: CdsHooksError, where: str) -> Response:
    log.warning("cds-hooks %s %d %s", where, error.status, error.message)
    response = _json({"error": error.message}, error.status)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def init_app(app: Flask, config: CdsHooksConfig | str | Path | None = None, **service_options: Any) -> None:
    """Register the CDS Hooks routes when configured: ``config``, else ``app.config["CDS_HOOKS"]``, else
    the file named by ``TRIAGE_CDS_HOOKS``. Without any, nothing is registered (the routes are 404)."""
    config = config or app.config.get("CDS_HOOKS") or os.environ.get(CONFIG_ENV)
    if not config:
        return
    if not isinstance(config, CdsHooksConfig):
        config = load_config(Path(config))
    app.register_blueprint(create_blueprint(CdsHooksService(config, **service_options)))
