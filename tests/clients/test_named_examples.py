"""Named examples (`Prefer: example=NAME`) are served verbatim, and the contract says so where it documents
them: a client team sees the body the docs show, and learns there that the providers' sample links are
illustrations, not pages to follow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from billing_contract.facts import API_OF_TAG, GET_HISTORY, LIST_STATEMENTS, MIFUMO
from billing_contract.spec import Spec, load_spec
from mock_server.testing import RunningMock

LINKS = ("next", "previous")


def _named_200_examples(spec: Spec) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for operation_id in spec.operations:
        content = spec.response(operation_id, 200)["content"]["application/json"]
        for name, example in content.get("examples", {}).items():
            yield operation_id, name, example


def _headers(mock: RunningMock, spec: Spec, operation_id: str, example: str) -> dict[str, str]:
    """The credentials of the operation's API (by its tag), and the `Prefer` naming the example."""
    api = API_OF_TAG[spec.operations[operation_id].tag]
    auth = mock.mifumo_headers if api == MIFUMO else mock.wepay_headers
    return {**auth, "Prefer": f"example={example}"}


def _path(spec: Spec, operation_id: str, example: dict[str, Any]) -> str:
    return spec.operations[operation_id].path.replace("{id}", str(example["value"].get("id", "x")))


@pytest.mark.parametrize(("operation_id", "name"), [(op, name) for op, name, _ in _named_200_examples(load_spec())])
def test_named_example_is_served_verbatim(mock: RunningMock, spec: Spec, operation_id: str, name: str) -> None:
    """Asked with the operation's own method (Mifumo's metadata is `OPTIONS`) and its API's credentials."""
    example = spec.response(operation_id, 200)["content"]["application/json"]["examples"][name]
    response = httpx.request(
        spec.operations[operation_id].method.upper(),
        mock.url + _path(spec, operation_id, example),
        headers=_headers(mock, spec, operation_id, name),
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json() == example["value"]


def test_every_example_with_links_says_it_is_served_verbatim(spec: Spec) -> None:
    """Where the docs show a link, they also say it is not one to follow."""
    examples = _named_200_examples(spec)
    with_links = [(op, name, ex) for op, name, ex in examples if any(ex["value"].get(k) for k in LINKS)]
    assert {(op, name) for op, name, _ in with_links} == {(GET_HISTORY, "seedPage"), (LIST_STATEMENTS, "seedPage")}
    for _, _, example in with_links:
        assert "Served verbatim" in example.get("description", "")
    assert "Named examples are served verbatim" in spec.document["info"]["description"]


def test_wepay_seed_page_cursor_is_an_illustration(mock: RunningMock, spec: Spec) -> None:
    """Following the sample's `next` answers what the spec says of a cursor no server issued."""
    served = httpx.get(
        mock.url + "/billing_statements", headers=_headers(mock, spec, LIST_STATEMENTS, "seedPage"), timeout=10
    ).json()
    followed = httpx.get(mock.url + served["next"], headers=mock.wepay_headers, timeout=10)
    assert followed.status_code == 400
    body = followed.json()
    assert body["error_code"] == "INVALID_PARAMS"
    assert [d["target"] for d in body["details"]] == [["page"]]


def test_without_prefer_the_links_are_followable(mock: RunningMock) -> None:
    """The way to page that the spec points to: pages of the dataset, whose links the mock honours."""
    first = httpx.get(mock.url + "/billing_statements", headers=mock.wepay_headers, timeout=10).json()
    assert httpx.get(mock.url + first["next"], headers=mock.wepay_headers, timeout=10).status_code == 200
    history = httpx.get(mock.url + "/api/billing/history/", headers=mock.mifumo_headers, timeout=10).json()
    assert history["next"].startswith(mock.url + "/")
    assert httpx.get(history["next"], headers=mock.mifumo_headers, timeout=10).status_code == 200
