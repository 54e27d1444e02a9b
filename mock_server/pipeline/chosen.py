"""A documented answer chosen by the client (`Prefer: code=N`, `example=NAME`), as connexion middleware.

`CheckedPreference` (after routing, before security) refuses a status or example the operation does not
document, and answers a chosen status that belongs to the credentials check itself (Mifumo's 401,
WePay's 403) before credentials are looked at. `ChosenAnswer` (after security and validation) answers
every other chosen status: credentials and request validation come first, as documented.
"""

from __future__ import annotations

from connexion.exceptions import ProblemException
from starlette.types import ASGIApp, Receive, Scope, Send

from billing_contract.spec import Spec
from mock_server.documented import DocumentedResponses
from mock_server.errors.reasons import chosen_reasons
from mock_server.pipeline.preferences import preference_problem
from mock_server.pipeline.scope import Preference, operation_of, preference_of, set_reason

# The statuses a credentials check answers; each operation documents the one its API uses.
CREDENTIALS_STATUSES = (401, 403)


def credentials_status(spec: Spec) -> dict[str, int]:
    """The status each operation's credentials check answers, as the spec documents it."""
    return {
        op_id: next(status for status in op.statuses if status in CREDENTIALS_STATUSES)
        for op_id, op in spec.operations.items()
        if any(status in CREDENTIALS_STATUSES for status in op.statuses)
    }


def _chosen(scope: Scope) -> tuple[str, Preference] | None:
    """The routed operation and the preference, when the request chooses its answer."""
    operation_id = operation_of(scope)
    preference = preference_of(scope)
    if scope["type"] != "http" or operation_id is None or not preference.chooses_answer:
        return None
    return operation_id, preference


class CheckedPreference:
    def __init__(self, next_app: ASGIApp, documented: DocumentedResponses, spec: Spec) -> None:
        self.next_app = next_app
        self.documented = documented
        self.credentials_status = credentials_status(spec)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chosen = _chosen(scope)
        if chosen is None:
            await self.next_app(scope, receive, send)
            return
        operation_id, preference = chosen
        documented = self.documented
        code = preference.code or 200
        if code not in documented.statuses(operation_id):
            listed = ", ".join(map(str, documented.statuses(operation_id)))
            raise preference_problem(f"Prefer code={code} is not documented for this operation; documented: {listed}")
        if preference.example and preference.example not in documented.examples(operation_id, code):
            listed = ", ".join(documented.examples(operation_id, code)) or "none"
            raise preference_problem(
                f"Prefer example={preference.example} is not documented for status {code}; documented: {listed}"
            )
        if code == self.credentials_status.get(operation_id):
            if preference.example:
                set_reason(scope, chosen_reasons(code, preference.example))
                await documented.response(operation_id, code, preference.example)(scope, receive, send)
                return
            # Refused as the real check refuses: the body says whether credentials were presented
            # (simplejwt's token_not_valid with a token, "not provided" without one; WePay's invalid or
            # missing credentials). The error handler works that out for a 401 from connexion's security.
            raise ProblemException(status=401, title="Unauthorized", detail="Prefer code")
        await self.next_app(scope, receive, send)


class ChosenAnswer:
    def __init__(self, next_app: ASGIApp, documented: DocumentedResponses) -> None:
        self.next_app = next_app
        self.documented = documented

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chosen = _chosen(scope)
        if chosen is None:
            await self.next_app(scope, receive, send)
            return
        operation_id, preference = chosen
        code = preference.code or 200
        if code >= 400:
            set_reason(scope, chosen_reasons(code, preference.example))
        response = self.documented.response(operation_id, code, preference.example)
        await response(scope, receive, send)
