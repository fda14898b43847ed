"""The contract data: valid against its schema, and internally consistent."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from pytest_connector_contract.contract import schemas
from pytest_connector_contract.contract.spec import load_spec, parse_version

SPEC = load_spec()


def test_spec_json_matches_its_schema() -> None:
    raw = json.loads(resources.files("pytest_connector_contract.contract").joinpath("spec.json").read_text())
    assert schemas.problems("spec", raw) == []


def test_the_catalogue_has_25_matrix_cells_and_unique_ids() -> None:
    ids = [check.id for check in SPEC.checks]
    assert len(ids) == len(set(ids))
    assert sum(1 for check in SPEC.checks if check.kind == "transition") == 25
    assert "transition[needs_configuration->error]" in ids


def test_every_check_has_a_statement_and_a_source() -> None:
    for check in SPEC.checks:
        assert len(check.statement) > 20, check.id
        assert check.source, check.id
        assert check.id.startswith(f"{check.category}[")


@pytest.mark.parametrize("profile", sorted(SPEC.profiles))
def test_setup_paths_are_valid_chains_from_created_in_every_profile(profile: str) -> None:
    table = SPEC.profiles[profile]
    for target, steps in SPEC.setup_paths.items():
        current = "created"
        for step in steps:
            assert table.allows(current, step), (profile, target, current, step)
            current = step
        assert current == target


def test_profile_8_15_allows_exactly_the_documented_transitions() -> None:
    table = SPEC.profiles["8.15"]
    accepted = {(a, b) for a in SPEC.statuses for b in SPEC.statuses if table.allows(a, b)}
    assert accepted == {
        ("created", "needs_configuration"),
        ("created", "error"),
        ("needs_configuration", "configured"),
        ("needs_configuration", "error"),
        ("configured", "needs_configuration"),
        ("configured", "configured"),
        ("configured", "connected"),
        ("configured", "error"),
        ("connected", "configured"),
        ("connected", "connected"),
        ("connected", "error"),
        ("error", "configured"),
        ("error", "connected"),
        ("error", "error"),
    }


def test_profile_8_13_is_8_15_without_self_transitions() -> None:
    old, new = SPEC.profiles["8.13"], SPEC.profiles["8.15"]
    for a in SPEC.statuses:
        for b in SPEC.statuses:
            assert old.allows(a, b) == (new.allows(a, b) and a != b), (a, b)


def test_nothing_goes_back_to_created() -> None:
    for profile in SPEC.profiles.values():
        assert not any(profile.allows(s, "created") for s in SPEC.statuses)


@pytest.mark.parametrize(
    ("version", "profile"),
    [
        ("8.13.0", "8.13"),
        ("8.14.3", "8.13"),
        ("8.15.0", "8.15"),
        ("8.19.2", "8.15"),
        ("9.1.0", "8.15"),
        ("10.0.0", "8.15"),
        ("8.12.2", None),
        ("7.17.0", None),
    ],
)
def test_profile_for_version(version: str, profile: str | None) -> None:
    parsed = parse_version(version)
    assert parsed is not None
    found = SPEC.profile_for_version(parsed)
    assert (found.name if found else None) == profile


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("8.15.0", (8, 15, 0)), ("9.1.0-SNAPSHOT", (9, 1, 0)), ("8.14", (8, 14, 0)), ("serverless", None), ("", None)],
)
def test_parse_version(text: str, parsed: tuple[int, int, int] | None) -> None:
    assert parse_version(text) == parsed


def test_known_deviations_name_existing_checks_and_apply_by_version() -> None:
    ids = {check.id for check in SPEC.checks}
    for deviation in SPEC.known_deviations:
        assert deviation.check in ids
    assert SPEC.deviation_for("validation[empty-body]", (8, 14, 3)) is not None
    assert SPEC.deviation_for("validation[empty-body]", (8, 15, 0)) is None
    assert SPEC.deviation_for("validation[empty-body]", None) is None


def test_validation_cases_cover_the_facts_table() -> None:
    ids = {case.id for case in SPEC.validation_cases}
    assert {
        "unknown-value",
        "empty-string-value",
        "missing-status",
        "null-value",
        "number-value",
        "boolean-value",
        "array-value",
        "object-value",
        "unknown-field",
        "body-array",
        "body-string",
        "body-number",
        "not-json",
        "empty-body",
        "truncated-json",
        "uppercase-value",
        "mixed-case-value",
        "missing-content-type",
        "unsupported-content-type",
        "method-get",
        "method-post",
        "method-delete",
        "unknown-query-parameter",
    } <= ids


def test_nothing_else_changed_counts_fields_that_appear_or_disappear_with_a_null_value() -> None:
    from pytest_connector_contract.checks.run import changed_fields

    before = {"id": "c", "status": "created", "error": None}
    assert changed_fields(before, {"id": "c", "status": "error"}, ignore=frozenset({"status"})) == [
        "field 'error' disappeared (was None)"
    ]
    assert changed_fields(before, {**before, "sync_now": None}) == ["field 'sync_now' appeared (None)"]
    assert changed_fields(before, {**before, "status": "error"}, ignore=frozenset({"status"})) == []
