"""Typed readers for settings taken from the environment.

Each reader raises ImproperlyConfigured naming the variable, so a bad deployment fails at start-up
with a message an operator can act on, not later with a stack trace from deep inside Django.
"""

from __future__ import annotations

import json
import os
from typing import Any

from django.core.exceptions import ImproperlyConfigured

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def env_str(name: str, default: str = "") -> str:
    """The variable's value, or ``default`` when unset."""
    return os.environ.get(name, default)


def env_bool(name: str, *, default: bool) -> bool:
    """A boolean spelled 1/0, true/false, yes/no or on/off (any case); empty counts as false."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no), got {raw!r}")


def env_int(name: str, *, default: int, minimum: int | None = None) -> int:
    """An integer, optionally bounded below."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """A comma-separated list; blanks around and between items are dropped."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_json(name: str, default: Any) -> Any:
    """A JSON document; ``default`` (already parsed) when unset or blank."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{name} must be valid JSON: {exc}") from None


def parse_workflow_days(name: str, value: Any) -> dict[str, dict[str, int]]:
    """Validate the per-workflow clock override: ``{"<workflow>": {"<clock>": <days>}}``.

    Days are whole, non-negative numbers; which workflows and clocks exist is for ``cases.workflow``
    to check, since settings load before the apps.
    """
    if not isinstance(value, dict):
        raise ImproperlyConfigured(
            f'{name} must be a JSON object like {{"course": {{"review": 14}}}}'
        )
    parsed: dict[str, dict[str, int]] = {}
    for workflow, clocks in value.items():
        if not isinstance(clocks, dict):
            raise ImproperlyConfigured(f"{name}[{workflow!r}] must be an object of clock: days")
        parsed[workflow] = {}
        for clock, days in clocks.items():
            # bool is an int subclass; "true" days is a typo, not a number.
            if isinstance(days, bool) or not isinstance(days, int) or days < 0:
                raise ImproperlyConfigured(
                    f"{name}[{workflow!r}][{clock!r}] must be a whole number of days >= 0, "
                    f"got {days!r}"
                )
            parsed[workflow][clock] = days
    return parsed
