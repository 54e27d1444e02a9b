"""The contract of the Mifumo SMS and WePay v3 billing APIs: its documents, their loader and the API
facts code needs. Fixtures, the mock and the conformance suite all depend on this package, and on
nothing of each other's."""

from billing_contract.documents import ADMIN_SPEC_PATH, SPEC_PATH, SPECS_DIR
from billing_contract.facts import (
    APIS,
    DESCRIBE_HISTORY,
    GET_HISTORY,
    GET_STATEMENT,
    LIST_STATEMENTS,
    MIFUMO,
    TAGS,
    WEPAY,
    ApiFacts,
    RateLimit,
)
from billing_contract.spec import Operation, Spec, SpecError, load_spec, to_json_schema

__all__ = [
    "ADMIN_SPEC_PATH",
    "APIS",
    "DESCRIBE_HISTORY",
    "GET_HISTORY",
    "GET_STATEMENT",
    "LIST_STATEMENTS",
    "MIFUMO",
    "SPECS_DIR",
    "SPEC_PATH",
    "TAGS",
    "WEPAY",
    "ApiFacts",
    "Operation",
    "RateLimit",
    "Spec",
    "SpecError",
    "load_spec",
    "to_json_schema",
]
