"""The contract as connexion 3.3 is given it: the document as written, but for what connexion cannot read.

Connexion ignores `allowEmptyValue`, so an empty value of an enum parameter that allows one (Mifumo's `type`:
no filter, as django-filter reads it) is added to the enum of connexion's copy.

Connexion reads a parameter schema's `type` unguarded (its URI parser and its argument decorator both do
`schema["type"]`), so a parameter whose schema is an `anyOf` without a top-level `type` fails every request
that sends it. The contract has such parameters where the API accepts any text and interprets it (Mifumo's
`page` and `page_size`, read as Django REST Framework reads them): on the wire a query value is text, so
connexion is given the plain string the value is, and the handler interprets it. The served document,
Swagger UI's and every tool's, stays as written.
"""

from __future__ import annotations

import copy
from typing import Any

from billing_contract.spec import Spec


def _any_text(schema: dict[str, Any]) -> bool:
    branches = schema.get("anyOf") or []
    return "type" not in schema and any(branch.get("type") == "string" for branch in branches)


def _as_text(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "string", **({"default": str(schema["default"])} if "default" in schema else {})}


def _readable(spec: Spec, parameter: dict[str, Any]) -> None:
    schema = spec.resolve(parameter.get("schema", {}))
    if _any_text(schema):
        parameter["schema"] = _as_text(schema)
    elif parameter.get("allowEmptyValue") and "enum" in schema and "" not in schema["enum"]:
        parameter["schema"] = {**schema, "enum": [*schema["enum"], ""]}


def for_connexion(spec: Spec) -> dict[str, Any]:
    """A copy of the document with those parameters made readable to connexion (nothing else changes)."""
    document = copy.deepcopy(spec.document)
    for parameter in document.get("components", {}).get("parameters", {}).values():
        _readable(spec, parameter)
    for item in document["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if "$ref" not in parameter:
                    _readable(spec, parameter)
    return document
