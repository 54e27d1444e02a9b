"""Errors, in each API's own body: what went wrong (`problem`), one renderer per API (`drf` for
Mifumo, `v3` for WePay) and the app-wide handler that turns any exception into the owning API's answer
(`handler`; connexion's own errors are problem+json, which neither API speaks)."""

from mock_server.errors.envelope import Envelope, ErrorResponse
from mock_server.errors.handler import ErrorRenderer
from mock_server.errors.problem import ApiProblem, FieldError, Kind, Location, Reason

__all__ = ["ApiProblem", "Envelope", "ErrorRenderer", "ErrorResponse", "FieldError", "Kind", "Location", "Reason"]
