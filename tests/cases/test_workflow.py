"""The workflow table and day counting, tested without a database (``cases.workflow`` is pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from cases import workflow as wf

UTC_TZ = ZoneInfo("UTC")
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
END_OF_DAY = time(23, 59, 59, 999999)

WORKFLOWS = (wf.RESEARCH_MISCONDUCT, wf.COURSE)


def all_facts(value: bool = True) -> dict[str, bool]:
    return {guard: value for guard in wf.GUARDS}


def transition_cases() -> list[tuple[wf.Workflow, wf.Transition]]:
    return [(w, t) for w in WORKFLOWS for t in w.transitions]


def transition_role_cases() -> list[pytest.ParameterSet]:
    return [
        pytest.param(w, t, role, id=f"{w.key}.{t.name}-{role}")
        for w, t in transition_cases()
        for role in wf.ALL_ROLES
    ]


def transition_wrong_state_cases() -> list[pytest.ParameterSet]:
    return [
        pytest.param(w, t, s.key, id=f"{w.key}.{t.name}-from-{s.key}")
        for w, t in transition_cases()
        for s in w.states
        if s.key not in t.sources
    ]


def transition_guard_cases() -> list[pytest.ParameterSet]:
    return [
        pytest.param(w, t, guard, id=f"{w.key}.{t.name}-{guard}")
        for w, t in transition_cases()
        for guard in t.guards
    ]


def reasoned_transition_cases() -> list[pytest.ParameterSet]:
    return [
        pytest.param(w, t, id=f"{w.key}.{t.name}")
        for w, t in transition_cases()
        if t.requires_reason
    ]


def unreasoned_transition_cases() -> list[pytest.ParameterSet]:
    return [
        pytest.param(w, t, id=f"{w.key}.{t.name}")
        for w, t in transition_cases()
        if not t.requires_reason
    ]


def some_role(t: wf.Transition) -> str:
    return sorted(t.roles)[0]


# --- Who may fire what, from where ----------------------------------------------------------------


@pytest.mark.parametrize(("workflow", "transition", "role"), transition_role_cases())
def test_each_transition_is_allowed_exactly_to_its_roles(
    workflow: wf.Workflow, transition: wf.Transition, role: str
) -> None:
    for source in transition.sources:
        attempt = {
            "state": source,
            "name": transition.name,
            "roles": {role},
            "facts": all_facts(),
            "reason": "Recorded in the minutes of the meeting.",
        }
        if role in transition.roles:
            assert wf.check_transition(workflow, **attempt) is transition  # type: ignore[arg-type]
        else:
            with pytest.raises(wf.TransitionRefused, match="may only be done by"):
                wf.check_transition(workflow, **attempt)  # type: ignore[arg-type]


@pytest.mark.parametrize(("workflow", "transition", "state"), transition_wrong_state_cases())
def test_a_transition_is_refused_from_every_state_outside_its_sources(
    workflow: wf.Workflow, transition: wf.Transition, state: str
) -> None:
    with pytest.raises(wf.TransitionRefused, match="is not possible while the case is in") as exc:
        wf.check_transition(
            workflow,
            state=state,
            name=transition.name,
            roles=set(wf.ALL_ROLES),
            facts=all_facts(),
            reason="Recorded in the minutes of the meeting.",
        )
    assert workflow.state(state).label in str(exc.value)


@pytest.mark.parametrize(("workflow", "transition", "guard"), transition_guard_cases())
def test_a_guard_refuses_when_its_fact_is_false_and_names_the_rule(
    workflow: wf.Workflow, transition: wf.Transition, guard: str
) -> None:
    facts = all_facts() | {guard: False}
    with pytest.raises(wf.TransitionRefused) as exc:
        wf.check_transition(
            workflow,
            state=transition.sources[0],
            name=transition.name,
            roles={some_role(transition)},
            facts=facts,
            reason="Recorded in the minutes of the meeting.",
        )
    assert wf.GUARDS[guard] in str(exc.value)


@pytest.mark.parametrize(("workflow", "transition", "guard"), transition_guard_cases())
def test_a_guard_whose_fact_is_missing_counts_as_false(
    workflow: wf.Workflow, transition: wf.Transition, guard: str
) -> None:
    facts = {g: True for g in wf.GUARDS if g != guard}
    with pytest.raises(wf.TransitionRefused, match=wf.GUARDS[guard]):
        wf.check_transition(
            workflow,
            state=transition.sources[0],
            name=transition.name,
            roles={some_role(transition)},
            facts=facts,
            reason="Recorded in the minutes of the meeting.",
        )


@pytest.mark.parametrize(("workflow", "transition"), reasoned_transition_cases())
@pytest.mark.parametrize("reason", ["", "   \n\t"])
def test_a_transition_that_requires_a_reason_refuses_a_blank_one(
    workflow: wf.Workflow, transition: wf.Transition, reason: str
) -> None:
    with pytest.raises(wf.TransitionRefused, match="needs a written reason"):
        wf.check_transition(
            workflow,
            state=transition.sources[0],
            name=transition.name,
            roles={some_role(transition)},
            facts=all_facts(),
            reason=reason,
        )


@pytest.mark.parametrize(("workflow", "transition"), unreasoned_transition_cases())
def test_a_transition_without_a_reason_requirement_accepts_none(
    workflow: wf.Workflow, transition: wf.Transition
) -> None:
    fired = wf.check_transition(
        workflow,
        state=transition.sources[0],
        name=transition.name,
        roles={some_role(transition)},
        facts=all_facts(),
    )
    assert fired is transition


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.key)
def test_an_unknown_transition_name_is_reported_as_unknown(workflow: wf.Workflow) -> None:
    with pytest.raises(wf.UnknownTransition, match="'reopen'"):
        wf.check_transition(
            workflow,
            state=workflow.initial,
            name="reopen",
            roles=set(wf.ALL_ROLES),
            facts=all_facts(),
            reason="x",
        )


def test_the_state_check_comes_before_the_role_check() -> None:
    with pytest.raises(wf.TransitionRefused, match="is not possible while"):
        wf.check_transition(
            wf.RESEARCH_MISCONDUCT,
            state="closed",
            name="start_inquiry",
            roles={wf.WITNESS},
            facts=all_facts(),
        )


def test_a_user_with_several_roles_may_fire_if_any_role_allows_it() -> None:
    transition = wf.check_transition(
        wf.RESEARCH_MISCONDUCT,
        state="decision",
        name="decide",
        roles={wf.COMMITTEE_MEMBER, wf.DECIDING_OFFICIAL},
        facts=all_facts(),
    )
    assert transition.target == "decided"


def test_nobody_may_fire_with_no_roles_at_all() -> None:
    with pytest.raises(wf.TransitionRefused, match="may only be done by"):
        wf.check_transition(
            wf.RESEARCH_MISCONDUCT,
            state="assessment",
            name="start_inquiry",
            roles=set(),
            facts=all_facts(),
        )


# --- The shape of the shipped tables --------------------------------------------------------------


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.key)
def test_every_state_is_reachable_from_the_initial_state(workflow: wf.Workflow) -> None:
    reached = {workflow.initial}
    frontier = [workflow.initial]
    while frontier:
        state = frontier.pop()
        for t in workflow.transitions_from(state):
            if t.target not in reached:
                reached.add(t.target)
                frontier.append(t.target)
    assert reached == {s.key for s in workflow.states}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.key)
def test_terminal_states_have_no_way_out_and_the_others_have_one(workflow: wf.Workflow) -> None:
    for state in workflow.states:
        outgoing = workflow.transitions_from(state.key)
        assert bool(outgoing) is not state.terminal, state.key
    assert any(s.terminal for s in workflow.states)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.key)
def test_every_clock_is_stopped_by_some_transition(workflow: wf.Workflow) -> None:
    stopped = {key for t in workflow.transitions for key in t.stops}
    assert stopped == {c.key for c in workflow.clocks}


def test_research_misconduct_day_counts_follow_42_cfr_93() -> None:
    rm = wf.RESEARCH_MISCONDUCT
    assert rm.clock("inquiry").days == 90
    assert rm.clock("investigation_start").days == 30
    assert rm.clock("investigation").days == 180
    assert rm.clock("respondent_comment").days == 30
    assert rm.clock("complainant_comment").days == 30
    assert rm.clock("complainant_comment").optional is True
    assert rm.clock("respondent_comment").per_party is True
    assert rm.retention_years == 7


def test_only_the_deciding_official_decides_a_research_misconduct_case() -> None:
    assert wf.RESEARCH_MISCONDUCT.transition("decide").roles == frozenset({wf.DECIDING_OFFICIAL})


def test_available_lists_the_transitions_a_role_may_offer_from_a_state() -> None:
    rm = wf.RESEARCH_MISCONDUCT
    assert {t.name for t in rm.available("assessment", {wf.INTEGRITY_OFFICER})} == {
        "start_inquiry",
        "dismiss_assessment",
    }
    assert {t.name for t in rm.available("inquiry", {wf.CHAIR})} == {
        "recommend_investigation",
        "close_inquiry",
    }
    assert rm.available("assessment", {wf.CHAIR, wf.RESPONDENT}) == ()
    assert {t.name for t in rm.available("decided", {wf.RESPONDENT})} == {"file_appeal"}
    assert rm.available("closed", set(wf.ALL_ROLES)) == ()


def test_looking_up_an_unknown_state_or_clock_raises_key_error() -> None:
    with pytest.raises(KeyError):
        wf.RESEARCH_MISCONDUCT.state("limbo")
    with pytest.raises(KeyError):
        wf.RESEARCH_MISCONDUCT.clock("forever")


def test_is_terminal_is_true_only_for_closed() -> None:
    assert wf.COURSE.is_terminal("closed") is True
    assert wf.COURSE.is_terminal("review") is False


# --- Validation of a table ------------------------------------------------------------------------


def tiny(**changes: object) -> wf.Workflow:
    """A valid two-state workflow with ``changes`` applied to its one transition or to itself."""
    transition = wf.Transition(
        "finish",
        "Finish",
        ("open",),
        "done",
        frozenset({wf.INTEGRITY_OFFICER}),
        starts=(),
        stops=("c",),
    )
    t_changes = {k[2:]: v for k, v in changes.items() if k.startswith("t_")}
    w_changes = {k: v for k, v in changes.items() if not k.startswith("t_")}
    kwargs: dict[str, object] = {
        "key": "tiny",
        "label": "Tiny",
        "states": (wf.State("open", "Open"), wf.State("done", "Done", terminal=True)),
        "initial": "open",
        "transitions": (replace(transition, **t_changes),),  # type: ignore[arg-type]
        "clocks": (wf.ClockSpec("c", "C", 3),),
        "retention_years": 1,
    }
    kwargs.update(w_changes)
    return wf.Workflow(**kwargs)  # type: ignore[arg-type]


def test_a_valid_table_is_accepted() -> None:
    assert tiny().transition("finish").target == "done"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"initial": "nowhere"}, "initial state 'nowhere' is not a state"),
        ({"t_target": "nowhere"}, "unknown states \\['nowhere'\\]"),
        ({"t_sources": ("open", "limbo")}, "unknown states \\['limbo'\\]"),
        ({"t_starts": ("tock",)}, "unknown clocks \\['tock'\\]"),
        ({"t_stops": ("tock",)}, "unknown clocks \\['tock'\\]"),
        ({"t_roles": frozenset({"janitor"})}, "unknown roles \\['janitor'\\]"),
        ({"t_guards": ("moon_is_full",)}, "unknown guards \\['moon_is_full'\\]"),
    ],
    ids=[
        "bad-initial",
        "bad-target",
        "bad-source",
        "bad-started-clock",
        "bad-stopped-clock",
        "bad-role",
        "bad-guard",
    ],
)
def test_a_table_with_a_bad_reference_is_rejected(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tiny(**changes)


def test_a_table_with_duplicate_transition_names_is_rejected() -> None:
    t = wf.Transition("finish", "Finish", ("open",), "done", frozenset({wf.CHAIR}))
    with pytest.raises(ValueError, match="duplicate transition names"):
        tiny(transitions=(t, t))


# --- Configured day counts ------------------------------------------------------------------------


def test_with_days_replaces_only_the_named_clocks_and_leaves_the_original_alone() -> None:
    changed = wf.COURSE.with_days({"review": 14, "appeal_window": 20})
    assert changed.clock("review").days == 14
    assert changed.clock("appeal_window").days == 20
    assert changed.clock("decision").days == wf.COURSE.clock("decision").days == 5
    assert wf.COURSE.clock("review").days == 10
    assert changed.clock("review").warn_days == wf.COURSE.clock("review").warn_days
    assert changed.transition("decide") is wf.COURSE.transition("decide")


@pytest.mark.parametrize(
    "days", [0, -3, 1.5, "30", True, None], ids=["zero", "negative", "float", "str", "bool", "none"]
)
def test_with_days_rejects_anything_but_a_positive_whole_number(days: object) -> None:
    with pytest.raises(ValueError, match="days must be a positive whole number"):
        wf.COURSE.with_days({"review": days})  # type: ignore[dict-item]


def test_with_days_rejects_an_unknown_clock() -> None:
    with pytest.raises(ValueError, match="no clocks named \\['inquiry'\\]"):
        wf.COURSE.with_days({"inquiry": 30})


def test_get_workflow_applies_only_the_overrides_for_that_workflow() -> None:
    overrides = {"course": {"review": 21}, "research_misconduct": {"inquiry": 60}}
    course = wf.get_workflow("course", overrides)
    assert course.clock("review").days == 21
    assert wf.get_workflow("research_misconduct", overrides).clock("inquiry").days == 60
    assert wf.get_workflow("research_misconduct", {"course": {"review": 21}}) is (
        wf.RESEARCH_MISCONDUCT
    )


def test_get_workflow_without_overrides_returns_the_shipped_table() -> None:
    assert wf.get_workflow("course") is wf.COURSE
    assert wf.get_workflow("course", {}) is wf.COURSE


def test_get_workflow_rejects_an_unknown_workflow_naming_the_known_ones() -> None:
    with pytest.raises(
        ValueError, match="unknown workflow 'tribunal'.*course, research_misconduct"
    ):
        wf.get_workflow("tribunal")


def test_get_workflow_rejects_an_override_of_an_unknown_clock() -> None:
    with pytest.raises(ValueError, match="no clocks named"):
        wf.get_workflow("course", {"course": {"investigation": 30}})


# --- Day counting ---------------------------------------------------------------------------------


def at(
    tz: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=tz)


def local_end_of(day: date, tz: ZoneInfo, result: datetime) -> None:
    """Assert that ``result`` is the last microsecond of ``day`` in ``tz``, returned in UTC."""
    assert result.utcoffset() == timedelta(0)
    local = result.astimezone(tz)
    assert local.date() == day
    assert local.time() == END_OF_DAY
    assert (result + timedelta(microseconds=1)).astimezone(tz).date() == day + timedelta(days=1)


@pytest.mark.parametrize(
    ("start", "days", "due_day"),
    [
        (date(2027, 1, 31), 30, date(2027, 3, 2)),
        (date(2028, 1, 31), 30, date(2028, 3, 1)),
        (date(2027, 2, 1), 28, date(2027, 3, 1)),
        (date(2028, 2, 1), 28, date(2028, 2, 29)),
        (date(2028, 2, 28), 1, date(2028, 2, 29)),
        (date(2027, 2, 28), 1, date(2027, 3, 1)),
        (date(2027, 12, 31), 1, date(2028, 1, 1)),
        (date(2027, 12, 15), 30, date(2028, 1, 14)),
        (date(2027, 4, 30), 0, date(2027, 4, 30)),
    ],
    ids=[
        "jan31+30-nonleap",
        "jan31+30-leap",
        "feb-nonleap",
        "feb-leap",
        "to-feb29",
        "past-feb28-nonleap",
        "dec31+1",
        "across-new-year",
        "zero-days-same-day",
    ],
)
def test_due_at_counts_calendar_days_across_month_and_year_ends(
    start: date, days: int, due_day: date
) -> None:
    started = at(UTC_TZ, start.year, start.month, start.day, 9, 30)
    local_end_of(due_day, UTC_TZ, wf.due_at(started, days, UTC_TZ))


def test_due_at_does_not_depend_on_the_hour_of_filing() -> None:
    early = at(NEW_YORK, 2027, 6, 1, 0, 0, 1)
    late = at(NEW_YORK, 2027, 6, 1, 23, 59, 59)
    assert wf.due_at(early, 10, NEW_YORK) == wf.due_at(late, 10, NEW_YORK)
    local_end_of(date(2027, 6, 11), NEW_YORK, wf.due_at(early, 10, NEW_YORK))


def test_due_at_counts_from_the_local_date_in_the_institution_time_zone() -> None:
    # 20:00 UTC on 31 January is 04:00 on 1 February in Shanghai (UTC+8).
    instant = at(UTC_TZ, 2027, 1, 31, 20, 0)
    assert wf.local_date(instant, UTC_TZ) == date(2027, 1, 31)
    assert wf.local_date(instant, SHANGHAI) == date(2027, 2, 1)
    in_utc = wf.due_at(instant, 30, UTC_TZ)
    in_shanghai = wf.due_at(instant, 30, SHANGHAI)
    local_end_of(date(2027, 3, 2), UTC_TZ, in_utc)
    local_end_of(date(2027, 3, 3), SHANGHAI, in_shanghai)
    assert in_shanghai == datetime(2027, 3, 3, 15, 59, 59, 999999, tzinfo=UTC)


def test_due_at_ends_at_local_midnight_across_the_spring_dst_change() -> None:
    # New York moves from EST (UTC-5) to EDT (UTC-4) at 02:00 on Sunday 14 March 2027.
    started = at(NEW_YORK, 2027, 3, 13, 12, 0)
    assert started.utcoffset() == timedelta(hours=-5)
    due = wf.due_at(started, 1, NEW_YORK)
    local_end_of(date(2027, 3, 14), NEW_YORK, due)
    assert due.astimezone(NEW_YORK).utcoffset() == timedelta(hours=-4)
    assert due == datetime(2027, 3, 15, 3, 59, 59, 999999, tzinfo=UTC)
    # A 30-day clock started the week before the change still ends at local midnight.
    local_end_of(date(2027, 4, 7), NEW_YORK, wf.due_at(at(NEW_YORK, 2027, 3, 8, 8), 30, NEW_YORK))


def test_due_at_ends_at_local_midnight_across_the_autumn_dst_change() -> None:
    # New York moves from EDT (UTC-4) back to EST (UTC-5) at 02:00 on Sunday 7 November 2027.
    started = at(NEW_YORK, 2027, 11, 6, 12, 0)
    assert started.utcoffset() == timedelta(hours=-4)
    due = wf.due_at(started, 1, NEW_YORK)
    local_end_of(date(2027, 11, 7), NEW_YORK, due)
    assert due.astimezone(NEW_YORK).utcoffset() == timedelta(hours=-5)
    assert due == datetime(2027, 11, 8, 4, 59, 59, 999999, tzinfo=UTC)


def test_due_at_returns_utc_whatever_zone_the_start_was_given_in() -> None:
    same_instant_utc = at(UTC_TZ, 2027, 5, 10, 3, 0)
    same_instant_ny = same_instant_utc.astimezone(NEW_YORK)  # 9 May, 23:00 EDT
    assert wf.due_at(same_instant_utc, 5, NEW_YORK) == wf.due_at(same_instant_ny, 5, NEW_YORK)
    local_end_of(date(2027, 5, 14), NEW_YORK, wf.due_at(same_instant_utc, 5, NEW_YORK))


def test_due_at_rejects_negative_days() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        wf.due_at(at(UTC_TZ, 2027, 1, 1), -1, UTC_TZ)


@pytest.mark.parametrize(
    "call",
    [
        lambda naive: wf.due_at(naive, 30, UTC_TZ),
        lambda naive: wf.warn_at(naive, 7, UTC_TZ),
        lambda naive: wf.local_date(naive, NEW_YORK),
    ],
    ids=["due_at", "warn_at", "local_date"],
)
def test_naive_datetimes_are_rejected(call: object) -> None:
    naive = datetime(2027, 1, 31, 12, 0)  # noqa: DTZ001
    with pytest.raises(ValueError, match="naive datetimes are not accepted"):
        call(naive)  # type: ignore[operator]


def test_warn_at_is_the_start_of_the_local_day_warn_days_before_the_due_date() -> None:
    due = wf.due_at(at(NEW_YORK, 2027, 3, 1, 10), 30, NEW_YORK)  # end of 31 March, EDT
    warn = wf.warn_at(due, 7, NEW_YORK)
    assert warn.utcoffset() == timedelta(0)
    assert warn.astimezone(NEW_YORK).replace(tzinfo=None) == datetime(2027, 3, 24, 0, 0)  # noqa: DTZ001
    assert warn == datetime(2027, 3, 24, 4, 0, tzinfo=UTC)


def test_warn_at_before_a_dst_change_uses_the_offset_of_that_day() -> None:
    due = wf.due_at(at(NEW_YORK, 2027, 3, 10, 10), 7, NEW_YORK)  # end of 17 March, EDT
    warn = wf.warn_at(due, 7, NEW_YORK)  # start of 10 March, still EST
    assert warn == datetime(2027, 3, 10, 5, 0, tzinfo=UTC)


def test_warn_at_with_zero_warn_days_is_the_start_of_the_due_day() -> None:
    due = wf.due_at(at(SHANGHAI, 2027, 2, 1, 4), 1, SHANGHAI)
    assert wf.warn_at(due, 0, SHANGHAI) == datetime(2027, 2, 1, 16, 0, tzinfo=UTC)


def test_extended_due_at_is_the_end_of_the_named_local_day() -> None:
    local_end_of(date(2027, 11, 7), NEW_YORK, wf.extended_due_at(date(2027, 11, 7), NEW_YORK))
    assert wf.extended_due_at(date(2028, 2, 29), SHANGHAI) == datetime(
        2028, 2, 29, 15, 59, 59, 999999, tzinfo=UTC
    )


def test_end_of_local_day_is_one_microsecond_before_the_next_local_midnight() -> None:
    end = wf.end_of_local_day(date(2027, 3, 14), NEW_YORK)  # a 23-hour day
    next_midnight = datetime.combine(date(2027, 3, 15), time(0), tzinfo=NEW_YORK)
    assert next_midnight - end == timedelta(microseconds=1)
