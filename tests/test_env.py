import pytest
from django.core.exceptions import ImproperlyConfigured

from integrity.env import (
    env_bool,
    env_int,
    env_json,
    env_list,
    env_str,
    parse_workflow_days,
)


def test_unset_variables_give_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLIPCASE_X_STR", "SLIPCASE_X_BOOL", "SLIPCASE_X_INT", "SLIPCASE_X_LIST"):
        monkeypatch.delenv(name, raising=False)
    assert env_str("SLIPCASE_X_STR", "d") == "d"
    assert env_bool("SLIPCASE_X_BOOL", default=True) is True
    assert env_int("SLIPCASE_X_INT", default=7) == 7
    assert env_list("SLIPCASE_X_LIST", ["a"]) == ["a"]
    assert env_json("SLIPCASE_X_JSON", {}) == {}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("TRUE", True), ("yes", True), ("on", True), ("0", False), ("off", False)],
)
def test_booleans_accept_the_usual_spellings(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("SLIPCASE_X_BOOL", raw)
    assert env_bool("SLIPCASE_X_BOOL", default=not expected) is expected


def test_a_misspelt_boolean_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPCASE_X_BOOL", "ture")
    with pytest.raises(ImproperlyConfigured, match="SLIPCASE_X_BOOL"):
        env_bool("SLIPCASE_X_BOOL", default=False)


def test_integers_are_parsed_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPCASE_X_INT", " 42 ")
    assert env_int("SLIPCASE_X_INT", default=0) == 42
    monkeypatch.setenv("SLIPCASE_X_INT", "-1")
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env_int("SLIPCASE_X_INT", default=0, minimum=0)
    monkeypatch.setenv("SLIPCASE_X_INT", "six")
    with pytest.raises(ImproperlyConfigured, match="SLIPCASE_X_INT must be an integer"):
        env_int("SLIPCASE_X_INT", default=0)


def test_lists_drop_blank_items(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPCASE_X_LIST", " a.org, ,b.org,")
    assert env_list("SLIPCASE_X_LIST") == ["a.org", "b.org"]


def test_invalid_json_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPCASE_X_JSON", "{course: 1}")
    with pytest.raises(ImproperlyConfigured, match="SLIPCASE_X_JSON must be valid JSON"):
        env_json("SLIPCASE_X_JSON", {})


def test_workflow_days_accept_whole_days_per_clock() -> None:
    value = {"course": {"review": 14, "appeal": 0}}
    assert parse_workflow_days("W", value) == value


@pytest.mark.parametrize(
    "value",
    [
        [],
        {"course": 14},
        {"course": {"review": "14"}},
        {"course": {"review": 1.5}},
        {"course": {"review": -1}},
        {"course": {"review": True}},
    ],
)
def test_workflow_days_reject_anything_but_whole_days(value: object) -> None:
    with pytest.raises(ImproperlyConfigured, match="W"):
        parse_workflow_days("W", value)
