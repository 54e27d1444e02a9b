"""The facts about the two APIs that code needs, named once.

What the spec states (credential headers, supported `Api-Version`s, WePay's rate limit) is read from
it; what the spec cannot state about itself (which operation is which, the tag each API's operations
carry) is named here, once, for fixtures, the mock and the suite alike.
"""

from __future__ import annotations

from dataclasses import dataclass

MIFUMO = "mifumo"
WEPAY = "wepay"
APIS = (MIFUMO, WEPAY)
# The contract's tag for each API: the spec groups each API's operations under it.
TAGS = {MIFUMO: "Mifumo", WEPAY: "WePay"}
API_OF_TAG = {tag: api for api, tag in TAGS.items()}

GET_HISTORY = "getBillingHistory"
DESCRIBE_HISTORY = "describeBillingHistory"  # DRF's OPTIONS answer (the view's metadata)
LIST_STATEMENTS = "listBillingStatements"
GET_STATEMENT = "getBillingStatement"

CURSOR_PARAM = "page"  # WePay's opaque cursor, on the statement list
THROTTLED_RESPONSE = "WePayThrottled"


@dataclass(frozen=True)
class RateLimit:
    requests: int
    window_s: float


@dataclass(frozen=True)
class ApiFacts:
    """What the spec states that code acts on, read once per loaded spec (`Spec.facts`)."""

    bearer_scheme: str  # the Authorization scheme word
    credential_headers: tuple[str, ...]  # WePay's apiKey headers, in the spec's order (App-Id, App-Token)
    version_header: str  # the header carrying the API version (Api-Version)
    api_versions: tuple[str, ...]  # every supported Api-Version
    rate_limit: RateLimit  # WePay's throttle, from the 429 response's `x-rate-limit`

    @property
    def account_header(self) -> str:
        """The header naming the calling application, by which WePay counts its rate limit."""
        return self.credential_headers[0]

    @property
    def default_api_version(self) -> str:
        return self.api_versions[0]
