"""The contract's own documents: `/openapi.json` (the spec) and the Swagger UI at `/docs`, in process and
over a real socket."""

from __future__ import annotations

import httpx
import pytest

from billing_contract.spec import Spec


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
        return {op["operationId"] for item in document["paths"].values() for op in item.values() if "operationId" in op}

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
