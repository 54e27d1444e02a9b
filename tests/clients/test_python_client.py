"""A Python client generated from the contract with openapi-python-client, used as a client team would:
generated from the file and from the URL the mock serves (the same code, no warnings), paging through
both APIs to the end with plain calls, fetching a statement by id, asking Mifumo's OPTIONS for its
metadata, and reading 400/401/403/404/406 bodies as the generated models."""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from billing_contract.documents import SPEC_PATH
from billing_contract.facts import DESCRIBE_HISTORY
from billing_contract.spec import Spec
from mock_server.testing import RunningMock
from tests.clients.generation import PACKAGE, different_files, generator_warnings, python_client


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, mock: RunningMock) -> dict[str, tuple[Path, str]]:
    """The client generated from the file and from the served URL: {source: (package dir, output)}."""
    return {
        "file": python_client(["--path", str(SPEC_PATH)], tmp_path_factory.mktemp("from-file")),
        "url": python_client(["--url", f"{mock.url}/openapi.json"], tmp_path_factory.mktemp("from-url")),
    }


@pytest.fixture(scope="module")
def client_package(generated: dict[str, tuple[Path, str]]) -> Iterator[ModuleType]:
    """The generated package, imported (the file's; the URL's is the same code, as a test checks)."""
    root = str(generated["file"][0].parent)
    sys.path.insert(0, root)
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(root)
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


@pytest.mark.parametrize("source", ["file", "url"])
def test_generates_without_warnings(generated: dict[str, tuple[Path, str]], source: str) -> None:
    assert generator_warnings(generated[source][1]) == []


def test_url_and_file_give_the_same_client(generated: dict[str, tuple[Path, str]]) -> None:
    assert different_files(generated["file"][0], generated["url"][0]) == []


def _models(package: Path) -> set[str]:
    return {path.stem for path in (package / "models").glob("*.py")} - {"__init__"}


def _snake(name: str) -> str:
    """A spec name as openapi-python-client names its module (`V3Error`: `v3_error`)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _refs_only(schema: dict[str, Any]) -> bool:
    """Whether a schema only names component schemas: a `$ref`, an array of them, or a oneOf/anyOf of them."""
    if "$ref" in schema:
        return True
    if schema.get("type") == "array":
        return _refs_only(schema.get("items", {}))
    branches = schema.get("oneOf") or schema.get("anyOf")
    return bool(branches) and all(_refs_only(branch) for branch in branches)


def _schema_models(spec: Spec) -> set[str]:
    """The model each object or enum schema of the spec's components is (a nullable object's is its
    non-null branch, `_type_0`)."""
    found = set()
    for name, schema in spec.document["components"]["schemas"].items():
        if schema.get("type") == "object" or "enum" in schema:
            found.add(_snake(name) + ("_type_0" if schema.get("nullable") else ""))
    return found


def _inline_copies(models: set[str], spec: Spec) -> list[str]:
    """The models made for a place where the spec names a component schema by `$ref` (an operation's
    response, `get_billing_history_response_401_type_0`; a component's property,
    `billing_statement_page_results_type_0_item`): copies of a schema that already is a model. A generator
    that keeps refs makes none; given the document with every `$ref` inlined, it makes one per place."""
    components = spec.document["components"]
    places = []
    for operation in spec.operations.values():
        for code, response in operation.raw["responses"].items():
            if "$ref" in response:
                response = components["responses"][response["$ref"].rsplit("/", 1)[1]]
            for media in response.get("content", {}).values():
                if _refs_only(media.get("schema", {})):
                    places.append(f"{_snake(operation.operation_id)}_response_{code}")
    for name, schema in components["schemas"].items():
        places += [f"{_snake(name)}_{key}" for key, sub in schema.get("properties", {}).items() if _refs_only(sub)]
    named = {_snake(name) for name in components["schemas"]}  # `billing_record_type` is the schema's own
    return sorted(
        model for model in models - named if any(model == place or model.startswith(place + "_") for place in places)
    )


def test_models_are_named_after_the_spec_schemas(generated: dict[str, tuple[Path, str]], spec: Spec) -> None:
    """Refs kept: each object or enum schema of the spec is one model, named after it, and no response or
    property that names one by `$ref` gets a copy (a dereferenced document gave 94 models, most of them
    copies)."""
    models = _models(generated["url"][0])
    assert {"billing_statement", "billing_statement_page", "billing_history_page", "v3_error"} <= models
    assert _schema_models(spec) <= models
    assert _inline_copies(models, spec) == []


def test_a_dereferenced_document_does_warn(tmp_path: Path, spec: Spec) -> None:
    """The checks can fail: the document with every $ref inlined (what was served before) drops responses,
    and its models copy the spec's schemas."""
    inlined = tmp_path / "inlined.json"
    inlined.write_text(json.dumps(spec.resolve(spec.document)), encoding="utf-8")
    package, output = python_client(["--path", str(inlined)], tmp_path)
    assert any("conflicting enums" in line for line in generator_warnings(output))
    copies = _inline_copies(_models(package), spec)
    assert "get_billing_history_response_200" in copies
    assert "billing_statement_page_results_type_0_item" in copies


def _mifumo(
    package: ModuleType, mock: RunningMock, token: str | None = None, params: dict[str, str] | None = None
) -> Any:
    """A client with the mock's token (or `token`); `params` go on every request through httpx, beside the
    generated call's own (the generated `type_` takes a `BillingRecordType`, so an unknown type, as a
    client passing a user's filter through would send it, goes this way)."""
    token = mock.credentials.bearer_token if token is None else token
    return package.AuthenticatedClient(
        base_url=mock.url, token=token, raise_on_unexpected_status=True, httpx_args={"params": params or {}}
    )


def _wepay(package: ModuleType, mock: RunningMock, credentials: bool = True) -> Any:
    headers = {k: v for k, v in mock.wepay_headers.items() if k != "Api-Version"} if credentials else {}
    return package.Client(base_url=mock.url, headers=headers, raise_on_unexpected_status=True)


def test_pages_through_mifumo_to_the_end(client_package: ModuleType, mock: RunningMock) -> None:
    """Follow each `next` link's page number with plain calls until `next` is null."""
    api = _module(client_package, "api.mifumo.get_billing_history")
    page_model = _module(client_package, "models").BillingHistoryPage
    client, page, ids, pages = _mifumo(client_package, mock), 1, [], 0
    while True:
        result = api.sync(client=client, page=page, page_size=40)
        assert isinstance(result, page_model)
        ids += [record.id for record in result.results]
        pages += 1
        if result.next_ is None:
            break
        page = int(parse_qs(urlsplit(result.next_).query)["page"][0])
    assert len(ids) == len(set(ids)) == result.count == len(mock.app.state.data.dataset.records)
    assert pages == -(-result.count // 40)


def test_pages_through_wepay_to_the_end_and_fetches_by_id(client_package: ModuleType, mock: RunningMock) -> None:
    """Each `next` cursor sent alone: the generated call sends no `page_size`/`currency` beside it."""
    models = _module(client_package, "models")
    listing = _module(client_package, "api.we_pay.list_billing_statements")
    client, version = _wepay(client_package, mock), models.ApiVersion("3.0")
    result = listing.sync(client=client, api_version=version, page_size=25)
    items, pages = list(result.results), 1
    while result.next_ is not None:
        cursor = parse_qs(urlsplit(result.next_).query)["page"][0]
        result = listing.sync(client=client, api_version=version, page=cursor)
        assert isinstance(result, models.BillingStatementPage), result
        items += result.results
        pages += 1
    assert len({item.id for item in items}) == len(items) == len(mock.app.state.data.dataset.statements)
    assert pages == -(-len(items) // 25)
    fetched = _module(client_package, "api.we_pay.get_billing_statement").sync(
        id=items[-1].id, client=client, api_version=version
    )
    assert isinstance(fetched, models.BillingStatement)
    assert fetched.to_dict() == items[-1].to_dict()


def test_describes_mifumo(client_package: ModuleType, mock: RunningMock, spec: Spec) -> None:
    """The generated `OPTIONS` call: DRF's metadata of the view, and its 401 as the generated model."""
    models = _module(client_package, "models")
    api = _module(client_package, "api.mifumo.describe_billing_history")
    described = api.sync(client=_mifumo(client_package, mock))
    assert isinstance(described, models.DrfMetadata)
    assert described.to_dict() == spec.example(DESCRIBE_HISTORY, 200, "billingHistory")
    refused = api.sync_detailed(client=_mifumo(client_package, mock, token="two words"))
    assert refused.status_code == 401 and isinstance(refused.parsed, models.SimpleJwtBadAuthorizationHeader)


def test_mifumo_errors_parse_into_their_models(client_package: ModuleType, mock: RunningMock) -> None:
    models = _module(client_package, "models")
    api = _module(client_package, "api.mifumo.get_billing_history")
    bad_type = api.sync_detailed(client=_mifumo(client_package, mock, params={"type": "refund"}))
    assert bad_type.status_code == 400 and isinstance(bad_type.parsed, models.DrfFieldErrors)
    assert bad_type.parsed.type_ == ["Select a valid choice. refund is not one of the available choices."]
    anonymous = client_package.Client(base_url=mock.url, raise_on_unexpected_status=True)
    no_token = api.sync_detailed(client=anonymous)
    assert no_token.status_code == 401 and isinstance(no_token.parsed, models.DrfNotAuthenticated)
    bad_header = api.sync_detailed(client=_mifumo(client_package, mock, token="two words"))
    assert bad_header.status_code == 401 and isinstance(bad_header.parsed, models.SimpleJwtBadAuthorizationHeader)
    assert bad_header.parsed.code.value == "bad_authorization_header"
    bad_token = api.sync_detailed(client=_mifumo(client_package, mock, token="not-a-token"))
    assert bad_token.status_code == 401 and isinstance(bad_token.parsed, models.SimpleJwtTokenNotValid)
    assert bad_token.parsed.messages[0].token_type == "access"
    past_end = api.sync_detailed(client=_mifumo(client_package, mock), page=100000)
    assert past_end.status_code == 404 and isinstance(past_end.parsed, models.DrfInvalidPage)
    bad_format = api.sync_detailed(client=_mifumo(client_package, mock, params={"format": "xml"}))
    assert bad_format.status_code == 404 and isinstance(bad_format.parsed, models.DrfNotFound)
    xml_only = _mifumo(client_package, mock).with_headers({"Accept": "application/xml"})
    not_acceptable = api.sync_detailed(client=xml_only)
    assert not_acceptable.status_code == 406 and isinstance(not_acceptable.parsed, models.DrfNotAcceptable)


def test_wepay_errors_parse_into_their_models(client_package: ModuleType, mock: RunningMock) -> None:
    models = _module(client_package, "models")
    listing = _module(client_package, "api.we_pay.list_billing_statements")
    by_id = _module(client_package, "api.we_pay.get_billing_statement")
    version = models.ApiVersion("3.0")
    bad_size = listing.sync_detailed(client=_wepay(client_package, mock), api_version=version, page_size=501)
    assert bad_size.status_code == 400 and isinstance(bad_size.parsed, models.ListBillingStatementsResponse400)
    assert [detail.target for detail in bad_size.parsed.details] == [["page_size"]]
    forbidden = listing.sync_detailed(client=_wepay(client_package, mock, credentials=False), api_version=version)
    assert forbidden.status_code == 403 and isinstance(forbidden.parsed, models.ListBillingStatementsResponse403)
    assert forbidden.parsed.error_code.value == "NOT_AUTHORIZED"
    missing = by_id.sync_detailed(id="no-such-statement", client=_wepay(client_package, mock), api_version=version)
    assert missing.status_code == 404 and isinstance(missing.parsed, models.GetBillingStatementResponse404)
    assert missing.parsed.error_code.value == "NOT_FOUND"
