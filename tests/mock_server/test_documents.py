"""The contract's own documents: `/openapi.json` (the spec) and the Swagger UI at `/docs`, in process and
over a real socket."""

from __future__ import annotations

import httpx
import pytest
import yaml

from billing_contract.spec import Spec
from mock_server.testing import RunningMock


def test_openapi_json_is_the_contract(api: httpx.Client, spec: Spec) -> None:
    response = api.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    served = response.json()
    assert served["openapi"] == spec.document["openapi"]
    assert served["paths"].keys() == spec.document["paths"].keys()
    assert served["info"] == spec.document["info"]
    assert served["components"]["schemas"].keys() == spec.document["components"]["schemas"].keys()

    def operation_ids(document: dict) -> set[str]:
        return {
            op["operationId"]
            for item in document["paths"].values()
            for op in item.values()
            if isinstance(op, dict) and "operationId" in op
        }

    assert operation_ids(served) == operation_ids(spec.document)


@pytest.mark.parametrize("path", ["/docs", "/docs/"])
def test_docs_serve_swagger_ui_on_the_contract(api: httpx.Client, path: str) -> None:
    response = api.get(path, follow_redirects=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in response.text and "/openapi.json" in response.text


def test_docs_assets_are_served(api: httpx.Client) -> None:
    page = api.get("/docs/", follow_redirects=True).text
    asset = next(part.split('"')[0] for part in page.split('src="')[1:] if part.split('"')[0].endswith(".js"))
    response = api.get(asset if asset.startswith("/") else f"/docs/{asset.removeprefix('./')}")
    assert response.status_code == 200 and len(response.content) > 1000


def test_contract_answers_do_not_depend_on_the_docs(api: httpx.Client, mifumo_auth: dict[str, str]) -> None:
    """Serving the documents leaves the contract's paths to the contract."""
    api.get("/docs/")
    assert api.get("/api/billing/history/", headers=mifumo_auth).status_code == 200
    assert api.get("/api/billing/history/docs").status_code in (401, 404)


def _without_servers(document: dict) -> dict:
    """The document less every `servers` list (top level, paths, operations): what the mock serves as written."""
    paths = {
        template: {key: value for key, value in item.items() if key != "servers"}
        for template, item in document["paths"].items()
    }
    return {**{key: value for key, value in document.items() if key != "servers"}, "paths": paths}


@pytest.mark.parametrize("path", ["/openapi.json", "/openapi.yaml"])
def test_served_document_is_the_file_as_written(api: httpx.Client, spec: Spec, path: str) -> None:
    """`$ref`s kept (generators name models after them); only the `servers` lists differ from the file."""
    response = api.get(path)
    assert response.status_code == 200
    served = response.json() if path.endswith(".json") else yaml.safe_load(response.text)
    assert _without_servers(served) == _without_servers(spec.document)
    assert response.text.count("$ref") == spec.path.read_text(encoding="utf-8").count("$ref") > 40


def test_json_and_yaml_documents_agree(api: httpx.Client) -> None:
    as_json = api.get("/openapi.json")
    as_yaml = api.get("/openapi.yaml")
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text) == as_json.json()


def _server_lists(document: dict) -> list[list[dict]]:
    return [document["servers"], *(item["servers"] for item in document["paths"].values() if "servers" in item)]


def test_served_document_names_the_mock_first_then_the_real_hosts(live_mock: RunningMock, spec: Spec) -> None:
    """Swagger UI uses a path's first server: the mock that served the page, not production."""
    served = httpx.get(f"{live_mock.url}/openapi.json", timeout=10).json()
    written = _server_lists(spec.document)
    lists = _server_lists(served)
    assert len(lists) == len(written) == 1 + len(spec.document["paths"])
    for served_list, written_list in zip(lists, written, strict=True):
        assert served_list[0]["url"] == live_mock.url
        assert [s for s in served_list[1:]] == [s for s in written_list if s["url"] != live_mock.url]
    hosts = {s["url"] for item in spec.document["paths"].values() for s in item["servers"]}
    assert {"https://api.wepay.com", "https://mifumosms.mifumolabs.com"} <= hosts  # the file keeps the real hosts


@pytest.mark.parametrize(
    ("host", "expected"),
    [("billing.test:8443", "http://billing.test:8443"), ("[::1]:4010", "http://[::1]:4010")],
)
def test_mock_server_url_follows_the_host_header(live_mock: RunningMock, host: str, expected: str) -> None:
    """Reached through another name (a proxy, a container port), the document names that name."""
    served = httpx.get(f"{live_mock.url}/openapi.yaml", headers={"Host": host}, timeout=10)
    document = yaml.safe_load(served.text)
    assert [lst[0]["url"] for lst in _server_lists(document)] == [expected] * len(_server_lists(document))


def test_odd_host_header_is_not_echoed_into_the_document(live_mock: RunningMock) -> None:
    served = httpx.get(f"{live_mock.url}/openapi.json", headers={"Host": 'evil" onload=x'}, timeout=10).json()
    assert served["servers"][0]["url"] == live_mock.url


def test_documents_answer_405_to_other_methods(live_mock: RunningMock) -> None:
    response = httpx.post(f"{live_mock.url}/openapi.json", timeout=10)
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}
    assert response.json() == {"detail": 'Method "POST" not allowed.'}
