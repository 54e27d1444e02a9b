"""The API profiles against the contract: every operation belongs to exactly one API, each profile's
operations are the spec's by tag, and what a profile names exists in the spec."""

from __future__ import annotations

import ast
from pathlib import Path

from billing_contract import profiles
from billing_contract.spec import Spec

ROOT = Path(__file__).resolve().parents[2]


def test_every_operation_belongs_to_one_profile(spec: Spec) -> None:
    owned = [op for profile in profiles.PROFILES.values() for op in profile.operations(spec)]
    assert sorted(owned) == sorted(spec.operations)
    for operation_id in spec.operations:
        assert operation_id in profiles.of_operation(spec, operation_id).operations(spec)


def test_what_a_profile_names_is_in_the_spec(spec: Spec) -> None:
    schemas = spec.document["components"]["schemas"]
    for profile in profiles.PROFILES.values():
        assert profile.collection in profile.operations(spec)
        assert profile.item is None or profile.item in profile.operations(spec)
        assert {profile.error_schema, profile.item_schema} <= set(schemas)
        assert profile.credentials_status(spec) in (401, 403)
    assert profiles.PROFILES["mifumo"].credentials_status(spec) == 401
    assert profiles.PROFILES["wepay"].credentials_status(spec) == 403


def test_no_api_is_named_in_a_branch_outside_the_profiles() -> None:
    """`if api == MIFUMO` and the like live in billing_contract/profiles.py only: elsewhere code asks the profile."""
    names = ("MIFUMO", "WEPAY", "'mifumo'", "'wepay'")
    found = []
    for package in ("billing_contract", "fixtures", "mock_server", "conformance"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "profiles.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                equality = isinstance(node, ast.Compare) and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops)
                if equality and any(ast.unparse(side) in names for side in [node.left, *node.comparators]):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert not found, found
