"""Case workflows as one declarative, pure table.

Contract: no Django, no ORM, no I/O. States, transitions (who may fire them, which clocks they start
and stop, which guards must hold) and clocks are data; the services in ``cases.services`` read this
table to decide what a user may do, and the pages render their buttons from it.

Two workflows ship:

* ``research_misconduct`` follows US 42 CFR Part 93 as revised in 2024: assessment, inquiry
  (90 days), investigation (begun within 30 days of the decision that one is warranted; 180 days
  for everything up to and including the institutional deciding official's decision), the
  respondent's 30-day comment on the draft report and the complainant's optional 30-day comment,
  decision, an optional institutional appeal, closure, and record retention for seven years.
* ``course`` is a course academic-integrity process (report, review, meeting, decision, appeal,
  closed) whose day counts an institution configures.

Day counting: a clock of N days started at an instant ends at the end of the N-th calendar day after
the local (institution time zone) date on which it started. Counting whole local days is how legal
deadlines are read ("within 30 days"), and it makes the result independent of the hour of filing and
correct across month ends and daylight-saving changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Committee roles (a CaseMember's role) and party roles (a CaseParty's role).
INTEGRITY_OFFICER = "integrity_officer"
COMMITTEE_MEMBER = "committee_member"
CHAIR = "chair"
DECIDING_OFFICIAL = "deciding_official"
APPEAL_PANEL = "appeal_panel"
COMMITTEE_ROLES: tuple[str, ...] = (
    INTEGRITY_OFFICER,
    COMMITTEE_MEMBER,
    CHAIR,
    DECIDING_OFFICIAL,
    APPEAL_PANEL,
)

COMPLAINANT = "complainant"
RESPONDENT = "respondent"
WITNESS = "witness"
PARTY_ROLES: tuple[str, ...] = (COMPLAINANT, RESPONDENT, WITNESS)

ALL_ROLES: tuple[str, ...] = COMMITTEE_ROLES + PARTY_ROLES

# Guards: named facts about a case that the service computes and the table requires.
GUARD_ALLEGATIONS_RECORDED = "allegations_recorded"
GUARD_FINDINGS_RECORDED = "findings_recorded"
GUARD_RESPONDENT_COMMENT_CLOSED = "respondent_comment_closed"
GUARD_APPEAL_WINDOW_OPEN = "appeal_window_open"
GUARDS: dict[str, str] = {
    GUARD_ALLEGATIONS_RECORDED: "at least one allegation must be recorded against a respondent",
    GUARD_FINDINGS_RECORDED: "every allegation must have a finding",
    GUARD_RESPONDENT_COMMENT_CLOSED: (
        "every respondent must have commented on the draft report or their comment period must "
        "have ended"
    ),
    GUARD_APPEAL_WINDOW_OPEN: "the appeal window must still be open",
}

# Who a clock binds: the committee (a deadline for the institution) or a party (their deadline).
BINDS_COMMITTEE = "committee"
BINDS_RESPONDENT = RESPONDENT
BINDS_COMPLAINANT = COMPLAINANT


@dataclass(frozen=True)
class ClockSpec:
    """A deadline that a transition starts and a later transition stops."""

    key: str
    label: str
    days: int
    binds: str = BINDS_COMMITTEE
    warn_days: int = 7
    per_party: bool = False  # one clock per respondent/complainant rather than one per case
    optional: bool = False  # e.g. the complainant's comment: no consequence if not used


@dataclass(frozen=True)
class Transition:
    name: str
    label: str
    sources: tuple[str, ...]
    target: str
    roles: frozenset[str]
    starts: tuple[str, ...] = ()
    stops: tuple[str, ...] = ()
    guards: tuple[str, ...] = ()
    requires_reason: bool = False


@dataclass(frozen=True)
class State:
    key: str
    label: str
    terminal: bool = False


@dataclass(frozen=True)
class Workflow:
    key: str
    label: str
    states: tuple[State, ...]
    initial: str
    transitions: tuple[Transition, ...]
    clocks: tuple[ClockSpec, ...]
    retention_years: int
    description: str = ""
    opens_with: tuple[str, ...] = ()  # clocks started when a case opens
    _by_name: Mapping[str, Transition] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {t.name: t for t in self.transitions})
        state_keys = {s.key for s in self.states}
        clock_keys = {c.key for c in self.clocks}
        if self.initial not in state_keys:
            raise ValueError(f"{self.key}: initial state {self.initial!r} is not a state")
        if len(self._by_name) != len(self.transitions):
            raise ValueError(f"{self.key}: duplicate transition names")
        if set(self.opens_with) - clock_keys:
            raise ValueError(
                f"{self.key}: unknown opening clocks {sorted(set(self.opens_with) - clock_keys)}"
            )
        for t in self.transitions:
            unknown = (set(t.sources) | {t.target}) - state_keys
            if unknown:
                raise ValueError(f"{self.key}.{t.name}: unknown states {sorted(unknown)}")
            bad_clocks = (set(t.starts) | set(t.stops)) - clock_keys
            if bad_clocks:
                raise ValueError(f"{self.key}.{t.name}: unknown clocks {sorted(bad_clocks)}")
            bad_roles = t.roles - set(ALL_ROLES)
            if bad_roles:
                raise ValueError(f"{self.key}.{t.name}: unknown roles {sorted(bad_roles)}")
            bad_guards = set(t.guards) - set(GUARDS)
            if bad_guards:
                raise ValueError(f"{self.key}.{t.name}: unknown guards {sorted(bad_guards)}")

    def state(self, key: str) -> State:
        for s in self.states:
            if s.key == key:
                return s
        raise KeyError(key)

    def is_terminal(self, key: str) -> bool:
        return self.state(key).terminal

    def transition(self, name: str) -> Transition:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownTransition(f"{self.label} has no transition named {name!r}") from None

    def clock(self, key: str) -> ClockSpec:
        for c in self.clocks:
            if c.key == key:
                return c
        raise KeyError(key)

    def transitions_from(self, state: str) -> tuple[Transition, ...]:
        return tuple(t for t in self.transitions if state in t.sources)

    def available(self, state: str, roles: frozenset[str] | set[str]) -> tuple[Transition, ...]:
        """Transitions that holders of ``roles`` may fire from ``state`` (guards not checked)."""
        return tuple(t for t in self.transitions_from(state) if t.roles & set(roles))

    def with_days(self, overrides: Mapping[str, int]) -> Workflow:
        """A copy with some clocks' day counts replaced (an institution's configuration)."""
        unknown = set(overrides) - {c.key for c in self.clocks}
        if unknown:
            raise ValueError(f"{self.key}: no clocks named {sorted(unknown)}")
        for key, days in overrides.items():
            if not isinstance(days, int) or isinstance(days, bool) or days < 1:
                raise ValueError(f"{self.key}.{key}: days must be a positive whole number")
        clocks = tuple(
            replace(c, days=overrides[c.key]) if c.key in overrides else c for c in self.clocks
        )
        return replace(self, clocks=clocks)


class WorkflowError(Exception):
    """Base class for refusals that come from the workflow table."""


class UnknownTransition(WorkflowError):
    pass


class TransitionRefused(WorkflowError):
    pass


def check_transition(
    workflow: Workflow,
    *,
    state: str,
    name: str,
    roles: frozenset[str] | set[str],
    facts: Mapping[str, bool],
    reason: str = "",
) -> Transition:
    """Return the transition if ``roles`` may fire ``name`` from ``state`` given ``facts``.

    Raises ``UnknownTransition`` or ``TransitionRefused`` with a message naming the problem.
    """
    transition = workflow.transition(name)
    if state not in transition.sources:
        allowed = ", ".join(workflow.state(s).label for s in transition.sources)
        raise TransitionRefused(
            f"'{transition.label}' is not possible while the case is in "
            f"'{workflow.state(state).label}' (only from: {allowed})"
        )
    if not transition.roles & set(roles):
        needed = ", ".join(sorted(transition.roles))
        raise TransitionRefused(f"'{transition.label}' may only be done by: {needed}")
    for guard in transition.guards:
        if not facts.get(guard, False):
            raise TransitionRefused(f"'{transition.label}' refused: {GUARDS[guard]}")
    if transition.requires_reason and not reason.strip():
        raise TransitionRefused(f"'{transition.label}' needs a written reason")
    return transition


# --- Day counting -------------------------------------------------------------------------------


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    if instant.tzinfo is None:
        raise ValueError("naive datetimes are not accepted; pass an aware datetime")
    return instant.astimezone(tz).date()


def end_of_local_day(day: date, tz: ZoneInfo) -> datetime:
    """The last instant (to the microsecond) of ``day`` in ``tz``, as an aware UTC datetime."""
    next_midnight = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=tz)
    return (next_midnight - timedelta(microseconds=1)).astimezone(ZoneInfo("UTC"))


def due_at(started_at: datetime, days: int, tz: ZoneInfo) -> datetime:
    """End of the ``days``-th local day after the local date of ``started_at``."""
    if days < 0:
        raise ValueError("days must not be negative")
    return end_of_local_day(local_date(started_at, tz) + timedelta(days=days), tz)


def warn_at(due: datetime, warn_days: int, tz: ZoneInfo) -> datetime:
    """Start of the local day ``warn_days`` before the due date (when a warning is raised)."""
    day = local_date(due, tz) - timedelta(days=warn_days)
    return datetime.combine(day, time(0, 0), tzinfo=tz).astimezone(ZoneInfo("UTC"))


def extended_due_at(new_due_date: date, tz: ZoneInfo) -> datetime:
    """An extension names a new local due date; the clock then ends at the end of that day."""
    return end_of_local_day(new_due_date, tz)


# --- The two shipped workflows ------------------------------------------------------------------

OFFICE = frozenset({INTEGRITY_OFFICER})
OFFICE_OR_CHAIR = frozenset({INTEGRITY_OFFICER, CHAIR})

RESEARCH_MISCONDUCT = Workflow(
    key="research_misconduct",
    label="Research misconduct (42 CFR 93)",
    description=(
        "US Public Health Service policies on research misconduct, 42 CFR Part 93 (2024 revision): "
        "assessment, inquiry, investigation, comment on the draft report, institutional decision."
    ),
    initial="assessment",
    retention_years=7,
    states=(
        State("assessment", "Assessment"),
        State("inquiry", "Inquiry"),
        State("investigation_pending", "Investigation to begin"),
        State("investigation", "Investigation"),
        State("draft_comment", "Comment on draft report"),
        State("decision", "Awaiting institutional decision"),
        State("decided", "Decided"),
        State("appeal", "Appeal"),
        State("closed", "Closed", terminal=True),
    ),
    clocks=(
        ClockSpec("inquiry", "Inquiry to be completed (93.307(g))", 90, warn_days=14),
        ClockSpec("investigation_start", "Investigation to begin (93.310(a))", 30, warn_days=7),
        ClockSpec(
            "investigation",
            "Investigation and institutional decision (93.311)",
            180,
            warn_days=30,
        ),
        ClockSpec(
            "respondent_comment",
            "Respondent's comments on the draft report (93.312(a))",
            30,
            binds=BINDS_RESPONDENT,
            per_party=True,
        ),
        ClockSpec(
            "complainant_comment",
            "Complainant's comments on the draft report (93.312(b))",
            30,
            binds=BINDS_COMPLAINANT,
            per_party=True,
            optional=True,
        ),
        ClockSpec("appeal_window", "Appeal window", 30, binds=BINDS_RESPONDENT, warn_days=7),
    ),
    transitions=(
        Transition(
            "start_inquiry",
            "Begin inquiry",
            ("assessment",),
            "inquiry",
            OFFICE,
            starts=("inquiry",),
            guards=(GUARD_ALLEGATIONS_RECORDED,),
        ),
        Transition(
            "dismiss_assessment",
            "Close after assessment (no inquiry warranted)",
            ("assessment",),
            "closed",
            OFFICE,
            requires_reason=True,
        ),
        Transition(
            "recommend_investigation",
            "Inquiry report: investigation warranted",
            ("inquiry",),
            "investigation_pending",
            OFFICE_OR_CHAIR,
            starts=("investigation_start",),
            stops=("inquiry",),
        ),
        Transition(
            "close_inquiry",
            "Inquiry report: no investigation warranted",
            ("inquiry",),
            "closed",
            OFFICE_OR_CHAIR,
            stops=("inquiry",),
            requires_reason=True,
        ),
        Transition(
            "begin_investigation",
            "Begin investigation",
            ("investigation_pending",),
            "investigation",
            OFFICE,
            starts=("investigation",),
            stops=("investigation_start",),
        ),
        Transition(
            "issue_draft_report",
            "Issue draft report for comment",
            ("investigation",),
            "draft_comment",
            OFFICE_OR_CHAIR,
            starts=("respondent_comment", "complainant_comment"),
        ),
        Transition(
            "submit_final_report",
            "Submit final report to the deciding official",
            ("draft_comment",),
            "decision",
            OFFICE_OR_CHAIR,
            stops=("respondent_comment", "complainant_comment"),
            guards=(GUARD_RESPONDENT_COMMENT_CLOSED, GUARD_FINDINGS_RECORDED),
        ),
        Transition(
            "decide",
            "Record the institutional decision",
            ("decision",),
            "decided",
            frozenset({DECIDING_OFFICIAL}),
            starts=("appeal_window",),
            stops=("investigation",),
            guards=(GUARD_FINDINGS_RECORDED,),
        ),
        Transition(
            "file_appeal",
            "File an appeal",
            ("decided",),
            "appeal",
            frozenset({RESPONDENT, INTEGRITY_OFFICER}),
            stops=("appeal_window",),
            guards=(GUARD_APPEAL_WINDOW_OPEN,),
            requires_reason=True,
        ),
        Transition(
            "decide_appeal",
            "Decide the appeal",
            ("appeal",),
            "closed",
            frozenset({APPEAL_PANEL}),
            requires_reason=True,
        ),
        Transition(
            "close",
            "Close the case",
            ("decided",),
            "closed",
            OFFICE,
            stops=("appeal_window",),
        ),
    ),
)

COURSE = Workflow(
    key="course",
    label="Course academic integrity",
    description=(
        "A course-level academic-integrity process: review of the report, a meeting with the "
        "student, a decision, an optional appeal. Day counts are set by the institution."
    ),
    initial="review",
    opens_with=("review",),
    retention_years=5,
    states=(
        State("review", "Review"),
        State("meeting", "Meeting"),
        State("decided", "Decided"),
        State("appeal", "Appeal"),
        State("closed", "Closed", terminal=True),
    ),
    clocks=(
        ClockSpec("review", "Review of the report", 10, warn_days=3),
        ClockSpec(
            "respondent_response",
            "Student's response to the notice",
            7,
            binds=BINDS_RESPONDENT,
            per_party=True,
            warn_days=2,
        ),
        ClockSpec("decision", "Decision after the meeting", 5, warn_days=2),
        ClockSpec("appeal_window", "Appeal window", 10, binds=BINDS_RESPONDENT, warn_days=3),
        ClockSpec("appeal_decision", "Decision on the appeal", 15, warn_days=3),
    ),
    transitions=(
        Transition(
            "schedule_meeting",
            "Send notice and schedule a meeting",
            ("review",),
            "meeting",
            OFFICE_OR_CHAIR,
            starts=("respondent_response", "decision"),
            stops=("review",),
            guards=(GUARD_ALLEGATIONS_RECORDED,),
        ),
        Transition(
            "dismiss",
            "Dismiss after review",
            ("review",),
            "closed",
            OFFICE_OR_CHAIR,
            stops=("review",),
            requires_reason=True,
        ),
        Transition(
            "decide",
            "Record the decision",
            ("meeting",),
            "decided",
            frozenset({CHAIR, DECIDING_OFFICIAL}),
            starts=("appeal_window",),
            stops=("decision", "respondent_response"),
            guards=(GUARD_FINDINGS_RECORDED,),
        ),
        Transition(
            "file_appeal",
            "File an appeal",
            ("decided",),
            "appeal",
            frozenset({RESPONDENT, INTEGRITY_OFFICER}),
            starts=("appeal_decision",),
            stops=("appeal_window",),
            guards=(GUARD_APPEAL_WINDOW_OPEN,),
            requires_reason=True,
        ),
        Transition(
            "decide_appeal",
            "Decide the appeal",
            ("appeal",),
            "closed",
            frozenset({APPEAL_PANEL}),
            stops=("appeal_decision",),
            requires_reason=True,
        ),
        Transition(
            "close",
            "Close the case",
            ("decided",),
            "closed",
            OFFICE,
            stops=("appeal_window",),
        ),
    ),
)

WORKFLOWS: dict[str, Workflow] = {w.key: w for w in (RESEARCH_MISCONDUCT, COURSE)}


def get_workflow(
    key: str, day_overrides: Mapping[str, Mapping[str, int]] | None = None
) -> Workflow:
    """The workflow ``key`` with an institution's day counts applied."""
    try:
        workflow = WORKFLOWS[key]
    except KeyError:
        known = ", ".join(sorted(WORKFLOWS))
        raise ValueError(f"unknown workflow {key!r} (known: {known})") from None
    overrides = (day_overrides or {}).get(key)
    return workflow.with_days(overrides) if overrides else workflow
