"""Notice kinds and which of them «СТОП» stops: the one table (docs/architecture.md
«Notifications»; docs/interfaces.md §10).

Opt-out stops invoices, reading reminders, surveys and planned-outage notices. Debt and
restriction notices are required by law (ПП РФ № 354, п. 119), and unplanned-outage and
power-restored notices are safety news: they still go. The campaign audience is built
with this table and the sender asks it again just before sending, since a person may
say «СТОП» after the campaign was queued. A kind missing here respects opt-out: a new
kind of bulk message must be listed as required on purpose, never by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

# notice kind → does «СТОП» stop it
NOTICE_KINDS: Final[Mapping[str, bool]] = {
    "invoice": True,
    "reminder": True,
    "survey": True,
    "planned_outage": True,
    "debt": False,
    "restriction": False,
    "unplanned_outage": False,
    "restored": False,
}


def notice_kind(campaign_kind: str, params: Mapping[str, Any] | None = None) -> str:
    """The notice kind of a campaign: an outage campaign is planned or unplanned by its
    `planned` parameter; every other campaign kind is its notice kind."""
    if campaign_kind == "outage":
        planned = bool((params or {}).get("planned"))
        return "planned_outage" if planned else "unplanned_outage"
    return campaign_kind


def respects_opt_out(campaign_kind: str, params: Mapping[str, Any] | None = None) -> bool:
    """Whether a person who said «СТОП» must not get this campaign's notice."""
    return NOTICE_KINDS.get(notice_kind(campaign_kind, params), True)
