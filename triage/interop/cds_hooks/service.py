"""The CDS Hooks service, independent of any web framework: discovery, and `patient-view` as trust,
then the request, then the FHIR data, then exactly the triage `triage assess` gives, then one card.

The web layer (``triage/channels/web/cds_hooks.py``) only moves bytes between HTTP and :class:`CdsHooksService`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Callable

from triage.interop.cds_hooks.cards import card_for_result, card_no_response, card_unreadable
from triage.interop.cds_hooks.config import CdsHooksConfig
from triage.interop.cds_hooks.prefetch import FhirFetcher, intake_id_of, latest_response, prefetch_templates
from triage.interop.cds_hooks.protocol import HOOK, SERVICE_ID, TriageFailed, UnknownService, parse_request
from triage.interop.cds_hooks.trust import ClientTrust, ReplayCache, StoreReplays
from triage.core.errors import EngineError, InvalidInput

if TYPE_CHECKING:  # annotations only
    from triage.core.questionnaire import Questionnaire
    from triage.decision.result import Result
    from triage.core.settings import Settings


@dataclass
class Outcome:
    """What one call produced, for the access log: nothing that identifies the patient."""

    cards: list[dict[str, Any]]
    outcome: str  # triaged / no_response / unreadable


class CdsHooksService:
    """Discovery and the `patient-view` service, independent of any web framework."""

    def __init__(self, config: CdsHooksConfig, settings: Settings | None = None, *,
                 clock: Callable[[], float] = time.time, today: Callable[[], date] = date.today,
                 transport: Any = None, replays: ReplayCache | StoreReplays | None = None):
        from triage.core.questionnaire import load_questionnaire
        from triage.core.ruleset import load_ruleset
        from triage.core.settings import load_settings

        self.config = config
        self.settings = settings or load_settings()
        self.questionnaire = load_questionnaire()
        self.ruleset = load_ruleset()
        self.today = today
        self.trust = ClientTrust(config, clock=clock, transport=transport, replays=replays)
        self.fetcher = FhirFetcher(config.fhir_timeout_seconds, transport=transport)

    @property
    def ruleset_label(self) -> str:
        info = self.ruleset.ruleset
        return f"{info.name} {info.version}"

    def discovery(self, authorization: str | None) -> dict[str, Any]:
        self.trust.verify(authorization, self.config.discovery_url)
        return discovery_document(self.questionnaire)

    def authorize(self, service_id: str, authorization: str | None) -> dict[str, Any]:
        """The verified claims of a call to ``service_id`` (Unauthorized, UnknownService): checked
        before the request body is read, so an unsigned caller costs no parsing."""
        if service_id != SERVICE_ID:
            raise UnknownService(f"no CDS service {service_id!r}")
        return self.trust.verify(authorization, self.config.service_url(service_id))

    def call(self, service_id: str, authorization: str | None, body: Any) -> Outcome:
        return self.answer(self.authorize(service_id, authorization), body)

    def answer(self, claims: dict[str, Any], body: Any) -> Outcome:
        """The cards for a call whose token ``authorize`` verified."""
        request = parse_request(body)
        response = latest_response(request, self.config.client(claims["iss"]), self.questionnaire, self.fetcher)
        if response is None:
            cards = [card_no_response(self.config, self.ruleset_label)] if self.config.card_when_no_response else []
            return Outcome(cards, "no_response")
        try:
            result = self._triage(response)
        except InvalidInput as error:
            return Outcome([card_unreadable(error, self.config, self.ruleset_label)], "unreadable")
        except EngineError:
            raise TriageFailed("the rules engine could not produce a result faithfully; no card is given") from None
        card = card_for_result(result, self.questionnaire, self.config,
                               intake_id=intake_id_of(response, self.config.intake_identifier_system),
                               response_status=response.get("status"))
        return Outcome([card], "triaged")

    def _triage(self, response: dict[str, Any]) -> Result:
        """Exactly `triage assess` on a QuestionnaireResponse file."""
        from triage.interop import fhir
        from triage.core.answers import parse_answers
        from triage.decision.assess import assess

        raw = fhir.answers_from_response(response, self.questionnaire)
        answers = parse_answers(raw, today=self.today())
        return assess(answers, self.ruleset, self.settings)


def discovery_document(questionnaire: Questionnaire) -> dict[str, Any]:
    return {
        "services": [{
            "hook": HOOK,
            "id": SERVICE_ID,
            "title": "Spine pre-consultation summary (after lumbar fusion)",
            "description": "When a patient's chart opens, triages the patient's latest pre-consultation "
                           "questionnaire response (pain after a lumbar fusion) and returns one card: red "
                           "flags and their urgency, records still missing, the four decision steps with "
                           "reasons, and topics the physician may want to discuss. Decision support only, "
                           "with no suggestions or orders; a physician consult is always recommended.",
            "prefetch": prefetch_templates(questionnaire),
            "usageRequirements": "The EHR signs every call with a JWT whose issuer and JWKS are configured "
                                 "with the service. Without the questionnaireResponse prefetch, the call "
                                 "needs fhirServer and fhirAuthorization.",
        }]
    }
