"""CDS Hooks 2.0.1: the pre-consultation summary as one card in the clinic's EHR (no web framework).

The EHR (the CDS client) opens a patient's chart and calls our `patient-view` service with the
patient's latest QuestionnaireResponse of our questionnaire (prefetched, or fetched here from its FHIR
server). The response is triaged by exactly the code `triage assess` uses, and the result becomes one
card: decision support only, never a suggestion, an order or a diagnosis. One module per concern:

    protocol.py   the hook, the service id, the request an EHR sends, the errors and their HTTP status
    config.py     the `[cds_hooks]` configuration: trusted EHRs, our URL, links, limits
    trust.py      the EHR's signed JWT: keys (JWKS files and URLs), claims, replayed tokens
    prefetch.py   the QuestionnaireResponse: prefetched, or fetched from the EHR's FHIR server
    cards.py      the card: summary, indicator, Markdown detail with every value escaped
    service.py    discovery and the service: trust, request, data, triage, card

Nothing here logs or raises with patient data. The HTTP routes are triage/channels/web/cds_hooks.py.
"""

from triage.interop.cds_hooks.cards import (STATUS_INDICATOR, STATUS_WORDS, SUMMARY_LIMIT, URGENCY_WORDS, URGENT_INDICATOR,
                                    card_detail, card_for_result, card_no_response, card_unreadable, indicator, md,
                                    summary)
from triage.interop.cds_hooks.config import CdsHooksConfig, TrustedClient, load_config
from triage.interop.cds_hooks.prefetch import (FhirFetcher, fill_template, intake_id_of, latest_response, prefetch_templates,
                                       questionnaire_urls)
from triage.interop.cds_hooks.protocol import (HOOK, MAX_BODY_BYTES, PREFETCH_PATIENT, PREFETCH_RESPONSE, SERVICE_ID,
                                       SPEC_VERSION, BadRequest, CdsHooksError, HookRequest, PreconditionFailed,
                                       TriageFailed, Unauthorized, Unavailable, UnknownService, parse_request)
from triage.interop.cds_hooks.service import CdsHooksService, Outcome, discovery_document
from triage.interop.cds_hooks.trust import ALGORITHMS, ClientTrust, JwksSource, ReplayCache, StoreReplays
