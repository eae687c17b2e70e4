"""Every write to the case core. ``<entity>_<action>(*, ...)`` functions, keyword-only.

Each service checks who may act (through a ``CaseAccess`` that only the access gate produces),
validates input, writes its rows and the timeline event in one transaction, and raises a
``cases.errors`` exception naming the problem otherwise, leaving nothing stored changed.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from cases import workflow as wf
from cases.audit.services import audit_append
from cases.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from cases.models import (
    MAX_TEXT,
    Allegation,
    AllegationKind,
    Appeal,
    Case,
    CaseMember,
    CaseNumberSequence,
    CaseParty,
    Clock,
    ClockExtension,
    ConflictDeclaration,
    Finding,
    FindingVote,
    Note,
    Party,
    Report,
    Response,
    ResponseAttachment,
    Sanction,
    TimelineEvent,
)
from cases.selectors import CaseAccess, user_is_office

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024
MAX_ATTACHMENTS = 20


# --- Helpers --------------------------------------------------------------------------------------


def workflow_for(key: str) -> wf.Workflow:
    """The workflow table with the institution's configured day counts."""
    return wf.get_workflow(key, getattr(settings, "SLIPCASE_WORKFLOW_DAYS", {}))


def institution_tz() -> ZoneInfo:
    return ZoneInfo(getattr(settings, "SLIPCASE_TIME_ZONE", "UTC"))


def _validated(obj: models.Model, *, exclude: Sequence[str] = ()) -> models.Model:
    """Run model validation (lengths, choices, blanks) so that SQLite and PostgreSQL agree."""
    try:
        obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
        # Django validates max_length for CharField only; a TextField's limit is a form hint.
        for f in obj._meta.concrete_fields:
            value = getattr(obj, f.attname)
            if isinstance(f, models.TextField) and f.max_length and f.name not in exclude:
                if isinstance(value, str) and len(value) > f.max_length:
                    limit = f"at most {f.max_length} characters (it has {len(value)})"
                    raise ValidationError({f.name: [f"Ensure this value has {limit}."]})
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        label = field if field != "__all__" else "input"
        raise ValidationFailed(f"{label}: {' '.join(messages)}", field=field) from exc
    return obj


def _create(obj: models.Model, *, exclude: Sequence[str] = ()) -> Any:
    _validated(obj, exclude=exclude)
    obj.save(force_insert=True)
    return obj


def _text(value: str | None, what: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    """Trimmed text; refused when empty (if required) or longer than ``limit`` characters."""
    text = (value or "").strip()
    field = what.replace(" ", "_")
    if required and not text:
        raise ValidationFailed(f"{what} must not be empty.", field=field)
    if len(text) > limit:
        raise ValidationFailed(
            f"{what} must be at most {limit} characters (it has {len(text)}).", field=field
        )
    return text


def event_record(
    *,
    case: Case,
    kind: str,
    summary: str,
    actor: User | None = None,
    data: dict[str, Any] | None = None,
    visible_to_parties: bool = False,
    party: CaseParty | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    """Append one event to the case timeline, and to the audit log, in the change's transaction."""
    event = TimelineEvent.objects.create(
        case=case,
        at=at or timezone.now(),
        actor=actor if actor is not None and actor.is_authenticated else None,
        kind=kind,
        summary=summary[:500],
        data=data or {},
        visibility=(
            TimelineEvent.Visibility.PARTIES
            if visible_to_parties
            else TimelineEvent.Visibility.COMMITTEE
        ),
        party=party,
    )
    audit_append(
        kind=f"case.{kind}",
        actor=actor,
        case=case,
        payload={"summary": event.summary, "data": data or {}, "timeline_event": event.pk},
    )
    return event


def require_roles(access: CaseAccess, roles: Iterable[str], action: str) -> None:
    """Refuse with a message naming who may, unless the user holds one of ``roles`` here."""
    roles = set(roles)
    if not access.roles & roles:
        names = ", ".join(sorted(r.replace("_", " ") for r in roles))
        raise PermissionDenied(f"Only {names} may {action}.")


def _require_open(case: Case, action: str) -> None:
    if case.workflow_def.is_terminal(case.state):
        raise Conflict(f"Case {case.number} is closed; cannot {action}.")


def _lock(access: CaseAccess, expected_version: int | None = None) -> Case:
    """Re-read the case under a row lock (and check the caller's version, if given)."""
    case = Case.objects.select_for_update().get(pk=access.case.pk)
    if expected_version is not None and case.version != expected_version:
        raise Conflict(
            f"Case {case.number} changed since you loaded it (version {expected_version}, now "
            f"{case.version}); reload and try again.",
            extra={"current_version": case.version, "state": case.state},
        )
    return case


def _bump(case: Case, *fields: str) -> None:
    """Save ``fields`` and increase the version, conditional on the version we read."""
    updated = Case.objects.filter(pk=case.pk, version=case.version).update(
        version=models.F("version") + 1, **{f: getattr(case, f) for f in fields}
    )
    if updated != 1:
        raise Conflict(f"Case {case.number} was changed concurrently; reload and try again.")
    case.version += 1


def _party_in_case(
    access: CaseAccess, party_id: int | CaseParty, role: str | None = None
) -> CaseParty:
    pk = party_id.pk if isinstance(party_id, CaseParty) else party_id
    qs = CaseParty.objects.filter(case=access.case, pk=pk).select_related("party")
    if role:
        qs = qs.filter(role=role)
    row = qs.first()
    if row is None:
        what = role or "party"
        raise NotFound(f"No {what} {pk!r} in case {access.case.number}.", field="party")
    return row


# --- Intake ---------------------------------------------------------------------------------------


def _new_reference() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    year = timezone.now().year
    return f"R-{year}-" + "".join(secrets.choice(alphabet) for _ in range(8))


def _work(data: Any, what: str) -> dict[str, str]:
    if data in (None, ""):
        return {}
    if not isinstance(data, dict):
        raise ValidationFailed(f"{what} must be an object with title, url, identifier, date.")
    allowed = {"title", "url", "identifier", "date"}
    unknown = set(data) - allowed
    if unknown:
        raise ValidationFailed(f"{what} has unknown fields: {', '.join(sorted(unknown))}.")
    out = {}
    for key in allowed & set(data):
        value = str(data[key] or "").strip()
        limit = 2000 if key == "url" else 300
        if len(value) > limit:
            raise ValidationFailed(f"{what}.{key} is longer than {limit} characters.")
        out[key] = value
    return out


def report_submit(
    *,
    reporter: User | AnonymousUser | None,
    mode: str,
    kind: str,
    title: str,
    narrative: str,
    respondents: list[dict[str, str]] | None = None,
    original_work: dict[str, str] | None = None,
    suspect_work: dict[str, str] | None = None,
    reporter_name: str = "",
    reporter_email: str = "",
    reporter_affiliation: str = "",
    client_token: str | None = None,
) -> Report:
    """File a report. Anonymous reports keep no identity, not even the logged-in account."""
    if mode not in Report.Mode.values:
        raise ValidationFailed(
            f"mode must be one of {', '.join(Report.Mode.values)}.", field="mode"
        )
    user = reporter if reporter is not None and reporter.is_authenticated else None
    if mode == Report.Mode.ANONYMOUS:
        if reporter_name or reporter_email or reporter_affiliation:
            raise ValidationFailed(
                "An anonymous report cannot carry a name, e-mail or affiliation; choose "
                "'confidential' to be known to the integrity office only.",
                field="mode",
            )
        user = None
    elif user is None and not (reporter_name.strip() and reporter_email.strip()):
        raise ValidationFailed(
            "A named or confidential report needs the reporter's name and e-mail (or an account).",
            field="reporter_name",
        )
    if user is not None and mode != Report.Mode.ANONYMOUS:
        reporter_name = reporter_name or user.get_full_name() or user.get_username()
        reporter_email = reporter_email or getattr(user, "email", "")
    people = []
    for i, person in enumerate(respondents or []):
        if not isinstance(person, dict) or not str(person.get("name", "")).strip():
            raise ValidationFailed(f"respondents[{i}] needs a name.", field="respondents")
        people.append(
            {
                "name": str(person["name"]).strip()[:200],
                "affiliation": str(person.get("affiliation", "")).strip()[:200],
                "email": str(person.get("email", "")).strip()[:254],
            }
        )
    if len(people) > 50:
        raise ValidationFailed("At most 50 respondents per report.", field="respondents")
    token = (client_token or "").strip() or None
    if token is not None:
        existing = Report.objects.filter(client_token=token).first()
        if existing is not None:
            raise Conflict(
                f"This report was already submitted (reference {existing.reference}); "
                "it was not stored twice.",
                extra={"reference": existing.reference},
            )
    report = Report(
        reference=_new_reference(),
        mode=mode,
        reporter=user,
        reporter_name=reporter_name.strip(),
        reporter_email=reporter_email.strip(),
        reporter_affiliation=reporter_affiliation.strip(),
        kind=kind,
        title=_text(title, "title"),
        narrative=_text(narrative, "narrative"),
        respondents=people,
        original_work=_work(original_work, "original_work"),
        suspect_work=_work(suspect_work, "suspect_work"),
        client_token=token,
    )
    try:
        with transaction.atomic():
            return _create(report, exclude=["case", "triaged_by"])
    except IntegrityError as exc:
        if token and Report.objects.filter(client_token=token).exists():
            raise Conflict("This report was already submitted; it was not stored twice.") from exc
        raise


def _require_office(user: User, action: str) -> None:
    if not user_is_office(user):
        raise PermissionDenied(f"Only the integrity office may {action}.")


def _require_untriaged(report: Report) -> None:
    if report.status != Report.Status.RECEIVED:
        raise Conflict(f"Report {report.reference} was already triaged ({report.status}).")


@transaction.atomic
def report_dismiss(*, report: Report, actor: User, reason: str) -> Report:
    _require_office(actor, "triage reports")
    report = Report.objects.select_for_update().get(pk=report.pk)
    _require_untriaged(report)
    report.status = Report.Status.DISMISSED
    report.dismissal_reason = _text(reason, "reason")
    report.triaged_at = timezone.now()
    report.triaged_by = actor
    _validated(report, exclude=["case", "reporter", "client_token"])
    report.save(update_fields=["status", "dismissal_reason", "triaged_at", "triaged_by"])
    return report


def _next_case_number(year: int) -> str:
    CaseNumberSequence.objects.get_or_create(year=year)
    seq = CaseNumberSequence.objects.select_for_update().get(year=year)
    seq.last += 1
    seq.save(update_fields=["last"])
    return f"SC-{year}-{seq.last:04d}"


@transaction.atomic
def case_open(
    *,
    actor: User,
    workflow: str,
    title: str,
    summary: str = "",
    institution: str = "",
    at: datetime | None = None,
) -> Case:
    _require_office(actor, "open cases")
    try:
        definition = workflow_for(workflow)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="workflow") from exc
    now = at or timezone.now()
    case = Case(
        number=_next_case_number(now.year),
        title=_text(title, "title"),
        summary=(summary or "").strip(),
        workflow=definition.key,
        state=definition.initial,
        institution=institution or getattr(settings, "SLIPCASE_INSTITUTION", ""),
        opened_by=actor,
        state_changed_at=now,
    )
    _create(case)
    event_record(
        case=case,
        kind="case_opened",
        summary=f"Case {case.number} opened under '{definition.label}'.",
        actor=actor,
        data={"workflow": definition.key, "state": case.state},
        visible_to_parties=True,
        at=now,
    )
    _start_clocks(case, definition.opens_with, now)
    return case


@transaction.atomic
def report_open_case(
    *, report: Report, actor: User, workflow: str, title: str = "", summary: str = ""
) -> Case:
    """Triage: open a case from a report, with its complainant, respondents and allegations."""
    _require_office(actor, "triage reports")
    report = Report.objects.select_for_update().get(pk=report.pk)
    _require_untriaged(report)
    case = case_open(
        actor=actor, workflow=workflow, title=title or report.title, summary=summary or ""
    )
    event_record(
        case=case,
        kind="report_filed",
        summary=f"Report {report.reference} filed ({report.get_mode_display()}).",
        data={"report": report.reference, "mode": report.mode},
        at=report.created_at,
    )
    if report.mode != Report.Mode.ANONYMOUS:
        party = Party.objects.create(
            name=report.reporter_name or "Complainant",
            email=report.reporter_email,
            affiliation=report.reporter_affiliation,
            user=report.reporter,
        )
        row = CaseParty.objects.create(
            case=case,
            party=party,
            role=CaseParty.Role.COMPLAINANT,
            identity_withheld=report.mode == Report.Mode.CONFIDENTIAL,
        )
        event_record(
            case=case,
            kind="party_added",
            summary="Complainant added.",
            actor=actor,
            data={"case_party": row.pk, "role": row.role},
        )
    access = CaseAccess(
        case=case, user=actor, committee_roles=frozenset({wf.INTEGRITY_OFFICER}), parties=()
    )
    for person in report.respondents:
        respondent = party_add(
            access=access,
            name=person["name"],
            affiliation=person.get("affiliation", ""),
            email=person.get("email", ""),
            role=CaseParty.Role.RESPONDENT,
        )
        allegation_add(
            access=access,
            respondent=respondent,
            kind=report.kind,
            description=report.narrative,
            original=report.original_work,
            suspect=report.suspect_work,
        )
    report.status = Report.Status.OPENED
    report.case = case
    report.triaged_at = timezone.now()
    report.triaged_by = actor
    report.save(update_fields=["status", "case", "triaged_at", "triaged_by"])
    return case


@transaction.atomic
def report_merge(*, report: Report, access: CaseAccess) -> Report:
    """Triage: attach a duplicate report to an existing case."""
    require_roles(access, {wf.INTEGRITY_OFFICER}, "merge reports into a case")
    report = Report.objects.select_for_update().get(pk=report.pk)
    _require_untriaged(report)
    report.status = Report.Status.MERGED
    report.case = access.case
    report.triaged_at = timezone.now()
    report.triaged_by = access.user
    report.save(update_fields=["status", "case", "triaged_at", "triaged_by"])
    event_record(
        case=access.case,
        kind="report_merged",
        summary=f"Report {report.reference} merged into this case.",
        actor=access.user,
        data={"report": report.reference},
    )
    return report


# --- Parties, allegations, committee --------------------------------------------------------------


def _account(user: Any) -> Any:
    """A user object, or a username resolved to an active account (after permission checks, so
    that whoever may not act cannot probe which usernames exist)."""
    if user is None or not isinstance(user, str):
        return user
    from django.contrib.auth import get_user_model

    found = get_user_model().objects.filter(username=user, is_active=True).first()
    if found is None:
        raise ValidationFailed(f"No active account {user!r}.", field="username")
    return found


def _user_is_member(case: Case, user: Any) -> bool:
    return CaseMember.objects.filter(case=case, user=user).exists()


@transaction.atomic
def party_add(
    *,
    access: CaseAccess,
    name: str,
    role: str,
    affiliation: str = "",
    email: str = "",
    kind: str = Party.Kind.PERSON,
    user: Any = None,
    identity_withheld: bool = False,
) -> CaseParty:
    require_roles(access, {wf.INTEGRITY_OFFICER, wf.CHAIR}, "add parties")
    _require_open(access.case, "add parties")
    user = _account(user)
    if role not in CaseParty.Role.values:
        raise ValidationFailed(
            f"role must be one of {', '.join(CaseParty.Role.values)}.", field="role"
        )
    if user is not None and _user_is_member(access.case, user):
        raise Conflict(
            "This person sits on the case's committee and cannot also be a party; "
            "remove or recuse the seat first.",
            field="user",
        )
    party = _create(
        Party(kind=kind, name=_text(name, "name"), affiliation=affiliation, email=email, user=user)
    )
    if role == CaseParty.Role.RESPONDENT and identity_withheld:
        raise ValidationFailed(
            "A respondent's identity cannot be withheld from the respondent's own case."
        )
    row = _create(
        CaseParty(case=access.case, party=party, role=role, identity_withheld=identity_withheld),
    )
    event_record(
        case=access.case,
        kind="party_added",
        summary=f"{row.get_role_display()} added.",
        actor=access.user,
        data={"case_party": row.pk, "role": role},
    )
    return row


@transaction.atomic
def party_link_account(*, access: CaseAccess, party: CaseParty | int, user: Any) -> CaseParty:
    """Link a party record to a user account, so the person can follow the case as that party."""
    require_roles(access, {wf.INTEGRITY_OFFICER}, "link parties to accounts")
    user = _account(user)
    row = _party_in_case(access, party)
    if _user_is_member(access.case, user):
        raise Conflict(
            "This account sits on the case's committee and cannot also be a party.", field="user"
        )
    if row.party.user_id not in (None, user.pk):
        raise Conflict("This party is already linked to another account.", field="user")
    row.party.user = user
    row.party.save(update_fields=["user"])
    event_record(
        case=access.case,
        kind="party_linked",
        summary=f"{row.get_role_display()} linked to an account.",
        actor=access.user,
        data={"case_party": row.pk},
    )
    return row


def _parse_date(value: Any, what: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationFailed(f"{what} must be a date (YYYY-MM-DD).", field=what) from exc


@transaction.atomic
def allegation_add(
    *,
    access: CaseAccess,
    respondent: CaseParty | int,
    kind: str,
    description: str,
    original: dict[str, Any] | None = None,
    suspect: dict[str, Any] | None = None,
) -> Allegation:
    require_roles(access, {wf.INTEGRITY_OFFICER, wf.CHAIR}, "record allegations")
    _require_open(access.case, "record allegations")
    row = _party_in_case(access, respondent, wf.RESPONDENT)
    original = original or {}
    suspect = suspect or {}
    if kind not in AllegationKind.values:
        raise ValidationFailed(
            f"kind must be one of {', '.join(AllegationKind.values)}.", field="kind"
        )
    allegation = _create(
        Allegation(
            case=access.case,
            respondent=row,
            kind=kind,
            description=_text(description, "description"),
            original_title=str(original.get("title", "") or ""),
            original_url=str(original.get("url", "") or ""),
            original_identifier=str(original.get("identifier", "") or ""),
            original_date=_parse_date(original.get("date"), "original.date"),
            suspect_title=str(suspect.get("title", "") or ""),
            suspect_url=str(suspect.get("url", "") or ""),
            suspect_identifier=str(suspect.get("identifier", "") or ""),
            suspect_date=_parse_date(suspect.get("date"), "suspect.date"),
            created_by=access.user,
        )
    )
    event_record(
        case=access.case,
        kind="allegation_recorded",
        summary=f"Allegation ({allegation.get_kind_display()}) recorded against a respondent.",
        actor=access.user,
        data={"allegation": allegation.pk, "respondent": row.pk},
        visible_to_parties=True,
        party=row,
    )
    return allegation


@transaction.atomic
def member_add(*, access: CaseAccess, user: Any, role: str, expertise: str = "") -> CaseMember:
    require_roles(access, {wf.INTEGRITY_OFFICER}, "appoint committee members")
    _require_open(access.case, "appoint committee members")
    user = _account(user)
    if role not in CaseMember.Role.values:
        raise ValidationFailed(
            f"role must be one of {', '.join(CaseMember.Role.values)}.", field="role"
        )
    if CaseParty.objects.filter(case=access.case, party__user=user).exists():
        raise Conflict(
            "This person is a party to the case and cannot sit on its committee.", field="user"
        )
    if CaseMember.objects.filter(case=access.case, user=user, recused_at__isnull=False).exists():
        raise Conflict(
            "This person was recused from the case and cannot be appointed again.", field="user"
        )
    if CaseMember.objects.filter(case=access.case, user=user, role=role).exists():
        raise Conflict("This person already holds that role on the case.", field="role")
    member = _create(
        CaseMember(
            case=access.case, user=user, role=role, expertise=expertise, added_by=access.user
        )
    )
    event_record(
        case=access.case,
        kind="member_added",
        summary=f"{member.get_role_display()} appointed: {user.get_username()}.",
        actor=access.user,
        data={"member": member.pk, "role": role},
    )
    return member


def _member_in_case(access: CaseAccess, member_id: int | CaseMember) -> CaseMember:
    pk = member_id.pk if isinstance(member_id, CaseMember) else member_id
    member = CaseMember.objects.filter(case=access.case, pk=pk).select_related("user").first()
    if member is None:
        raise NotFound(f"No committee member {pk!r} in case {access.case.number}.")
    return member


@transaction.atomic
def member_recuse(*, access: CaseAccess, member: CaseMember | int, reason: str) -> CaseMember:
    member = _member_in_case(access, member)
    if member.user_id != access.user.pk:
        require_roles(access, {wf.INTEGRITY_OFFICER}, "recuse another member")
    if member.recused_at is not None:
        raise Conflict("This member is already recused.")
    now = timezone.now()
    # Recusal applies to every seat the person holds on this case.
    CaseMember.objects.filter(case=access.case, user_id=member.user_id).update(
        recused_at=now, recusal_reason=_text(reason, "reason")
    )
    member.refresh_from_db()
    event_record(
        case=access.case,
        kind="member_recused",
        summary=f"{member.user.get_username()} recused.",
        actor=access.user,
        data={"member": member.pk, "reason": member.recusal_reason},
    )
    return member


@transaction.atomic
def conflict_declare(
    *, access: CaseAccess, member: CaseMember | int, has_conflict: bool, statement: str
) -> ConflictDeclaration:
    """A member declares their interests. A declared conflict recuses them at once."""
    member = _member_in_case(access, member)
    if member.user_id != access.user.pk:
        require_roles(access, {wf.INTEGRITY_OFFICER}, "record another member's declaration")
    if member.recused_at is not None:
        raise Conflict("This member is already recused.")
    declaration = _create(
        ConflictDeclaration(
            member=member, has_conflict=has_conflict, statement=_text(statement, "statement")
        )
    )
    event_record(
        case=access.case,
        kind="conflict_declared",
        summary=(
            f"{member.user.get_username()} declared "
            + ("a conflict of interest." if has_conflict else "no conflict of interest.")
        ),
        actor=access.user,
        data={"member": member.pk, "has_conflict": has_conflict},
    )
    if has_conflict:
        member_recuse(
            access=access, member=member, reason=f"Declared conflict: {declaration.statement}"
        )
    return declaration


# --- Workflow -------------------------------------------------------------------------------------


def case_facts(case: Case, *, now: datetime | None = None) -> dict[str, bool]:
    """The guard facts the workflow table asks about, computed from the case's rows."""
    now = now or timezone.now()
    allegations = list(case.allegations.values_list("id", flat=True))
    with_findings = set(
        Finding.objects.filter(allegation__case=case).values_list("allegation_id", flat=True)
    )
    respondents = set(case.case_parties.filter(role=wf.RESPONDENT).values_list("id", flat=True))
    commented = set(
        case.responses.filter(kind=Response.Kind.DRAFT_REPORT_COMMENT).values_list(
            "party_id", flat=True
        )
    )
    comment_clocks = {
        c.party_id: c for c in case.clocks.filter(key="respondent_comment").order_by("started_at")
    }
    respondent_done = all(
        pid in commented or (pid in comment_clocks and comment_clocks[pid].due_at < now)
        for pid in respondents
    )
    appeal_clock = case.clocks.filter(key="appeal_window", status=Clock.Status.RUNNING).first()
    return {
        wf.GUARD_ALLEGATIONS_RECORDED: bool(allegations),
        wf.GUARD_FINDINGS_RECORDED: bool(allegations) and set(allegations) <= with_findings,
        wf.GUARD_RESPONDENT_COMMENT_CLOSED: respondent_done,
        wf.GUARD_APPEAL_WINDOW_OPEN: appeal_clock is not None and appeal_clock.due_at >= now,
    }


def _start_clock(case: Case, spec: wf.ClockSpec, now: datetime, party: CaseParty | None) -> Clock:
    tz = institution_tz()
    due = wf.due_at(now, spec.days, tz)
    clock = Clock.objects.create(
        case=case,
        key=spec.key,
        label=spec.label,
        binds=spec.binds,
        party=party,
        days=spec.days,
        optional=spec.optional,
        started_at=now,
        due_at=due,
        warn_at=wf.warn_at(due, spec.warn_days, tz),
    )
    event_record(
        case=case,
        kind="clock_started",
        summary=f"Clock started: {spec.label}, {spec.days} days, due {due.isoformat()}.",
        data={"clock": clock.pk, "key": spec.key, "due_at": due.isoformat(), "days": spec.days},
        visible_to_parties=party is not None or spec.binds != wf.BINDS_COMMITTEE,
        party=party,
        at=now,
    )
    return clock


def _start_clocks(case: Case, keys: Iterable[str], now: datetime) -> list[Clock]:
    definition = case.workflow_def
    started = []
    for key in keys:
        spec = definition.clock(key)
        if spec.per_party:
            for row in case.case_parties.filter(role=spec.binds).order_by("id"):
                started.append(_start_clock(case, spec, now, row))
        else:
            started.append(_start_clock(case, spec, now, None))
    return started


def _stop_clocks(case: Case, keys: Iterable[str], now: datetime) -> None:
    for clock in case.clocks.filter(key__in=list(keys), status=Clock.Status.RUNNING):
        clock.status = Clock.Status.STOPPED
        clock.stopped_at = now
        clock.save(update_fields=["status", "stopped_at"])
        late = now > clock.due_at
        event_record(
            case=case,
            kind="clock_stopped",
            summary=f"Clock stopped: {clock.label}" + (" (after its due date)." if late else "."),
            data={"clock": clock.pk, "key": clock.key, "late": late},
            visible_to_parties=clock.party_id is not None or clock.binds != wf.BINDS_COMMITTEE,
            party=clock.party,
            at=now,
        )


def _apply_transition(
    case: Case, transition: wf.Transition, *, actor: Any, reason: str, now: datetime
) -> None:
    definition = case.workflow_def
    before = case.state
    case.state = transition.target
    case.state_changed_at = now
    fields = ["state", "state_changed_at"]
    if definition.is_terminal(transition.target):
        case.closed_at = now
        case.closure_reason = reason
        closed_on = wf.local_date(now, institution_tz())
        try:
            case.retain_until = closed_on.replace(year=closed_on.year + definition.retention_years)
        except ValueError:  # 29 February
            case.retain_until = closed_on.replace(
                year=closed_on.year + definition.retention_years, day=28
            )
        fields += ["closed_at", "closure_reason", "retain_until"]
    _bump(case, *fields)
    event_record(
        case=case,
        kind="transition",
        summary=f"{transition.label}: {definition.state(before).label} → "
        f"{definition.state(transition.target).label}.",
        actor=actor,
        data={
            "transition": transition.name,
            "from": before,
            "to": transition.target,
            "reason": reason,
        },
        visible_to_parties=True,
        at=now,
    )
    _stop_clocks(case, transition.stops, now)
    _start_clocks(case, transition.starts, now)


def _checked_transition(
    case: Case, access: CaseAccess, name: str, *, reason: str, now: datetime
) -> wf.Transition:
    """The transition if this user may fire it now; otherwise the error that says why (400 for
    an unknown name, 403 for the wrong role, 409 for the wrong state or an unmet guard)."""
    definition = case.workflow_def
    try:
        return wf.check_transition(
            definition,
            state=case.state,
            name=name,
            roles=access.roles,
            facts=case_facts(case, now=now),
            reason=reason,
        )
    except wf.UnknownTransition as exc:
        raise ValidationFailed(str(exc), field="name") from exc
    except wf.TransitionRefused as exc:
        if not (transition_roles := definition.transition(name).roles) & access.roles:
            raise PermissionDenied(str(exc), extra={"roles": sorted(transition_roles)}) from exc
        raise Conflict(str(exc), extra={"state": case.state}) from exc


@transaction.atomic
def case_transition(
    *,
    access: CaseAccess,
    name: str,
    reason: str = "",
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Case:
    """Fire a workflow transition. Of two conflicting concurrent transitions one wins and the
    other gets ``Conflict``."""
    case = _lock(access, expected_version)
    if name == "file_appeal" or name == "decide_appeal":
        raise ValidationFailed(
            f"'{name}' is done through the appeals endpoint, which records the appeal itself.",
            field="name",
        )
    now = now or timezone.now()
    reason = _text(reason, "reason", required=False)
    transition = _checked_transition(case, access, name, reason=reason, now=now)
    _apply_transition(case, transition, actor=access.user, reason=reason.strip(), now=now)
    return case


@transaction.atomic
def clock_extend(
    *, access: CaseAccess, clock: Clock | int, new_due_date: date | str, reason: str
) -> ClockExtension:
    """Extend a running clock to the end of ``new_due_date`` (institution time zone)."""
    require_roles(access, {wf.INTEGRITY_OFFICER, wf.CHAIR}, "extend clocks")
    _lock(access)
    pk = clock.pk if isinstance(clock, Clock) else clock
    row = Clock.objects.select_for_update().filter(case=access.case, pk=pk).first()
    if row is None:
        raise NotFound(f"No clock {pk!r} in case {access.case.number}.")
    if row.status != Clock.Status.RUNNING:
        raise Conflict(f"The clock '{row.label}' was stopped; only running clocks can be extended.")
    new_date = _parse_date(new_due_date, "new_due_date")
    if new_date is None:
        raise ValidationFailed("new_due_date is required.", field="new_due_date")
    new_due = wf.extended_due_at(new_date, institution_tz())
    if new_due <= row.due_at:
        raise ValidationFailed(
            f"The new due date must be after the current one ({row.due_at.isoformat()}).",
            field="new_due_date",
        )
    extension = _create(
        ClockExtension(
            clock=row,
            previous_due_at=row.due_at,
            new_due_at=new_due,
            reason=_text(reason, "reason"),
            requested_by=access.user,
            approved_by=access.user,
        )
    )
    spec_warn = row.due_at - row.warn_at
    row.due_at = new_due
    row.warn_at = new_due - spec_warn
    row.warned_at = None
    row.overdue_at = None
    row.save(update_fields=["due_at", "warn_at", "warned_at", "overdue_at"])
    event_record(
        case=access.case,
        kind="clock_extended",
        summary=f"Clock extended: {row.label}, now due {new_due.isoformat()}.",
        actor=access.user,
        data={
            "clock": row.pk,
            "previous_due_at": extension.previous_due_at.isoformat(),
            "new_due_at": new_due.isoformat(),
            "reason": extension.reason,
        },
        visible_to_parties=row.party_id is not None or row.binds != wf.BINDS_COMMITTEE,
        party=row.party,
    )
    return extension


def clocks_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Write a timeline event once when a running clock enters its warning period or falls due."""
    now = now or timezone.now()
    warned = overdue = 0
    due_soon = Clock.objects.filter(
        status=Clock.Status.RUNNING, warn_at__lte=now, warned_at__isnull=True
    ).select_related("case", "party")
    for clock in due_soon:
        with transaction.atomic():
            if Clock.objects.filter(pk=clock.pk, warned_at__isnull=True).update(warned_at=now) != 1:
                continue
            event_record(
                case=clock.case,
                kind="clock_warning",
                summary=f"Clock due soon: {clock.label}, due {clock.due_at.isoformat()}.",
                data={"clock": clock.pk, "due_at": clock.due_at.isoformat()},
                visible_to_parties=clock.party_id is not None,
                party=clock.party,
                at=now,
            )
            warned += 1
    past_due = Clock.objects.filter(
        status=Clock.Status.RUNNING, due_at__lt=now, overdue_at__isnull=True
    ).select_related("case", "party")
    for clock in past_due:
        with transaction.atomic():
            if (
                Clock.objects.filter(pk=clock.pk, overdue_at__isnull=True).update(overdue_at=now)
                != 1
            ):
                continue
            event_record(
                case=clock.case,
                kind="clock_overdue",
                summary=f"Clock overdue: {clock.label}, was due {clock.due_at.isoformat()}.",
                data={"clock": clock.pk, "due_at": clock.due_at.isoformat()},
                visible_to_parties=clock.party_id is not None,
                party=clock.party,
                at=now,
            )
            overdue += 1
    return {"warned": warned, "overdue": overdue}


# --- Notes, responses -----------------------------------------------------------------------------


@transaction.atomic
def note_add(
    *, access: CaseAccess, body: str, visibility: str, party: CaseParty | int | None = None
) -> Note:
    """Committee notes (internal, personal, or shared with one party) and parties' messages."""
    if visibility not in Note.Visibility.values:
        raise ValidationFailed(
            f"visibility must be one of {', '.join(Note.Visibility.values)}.", field="visibility"
        )
    row = None
    if access.is_committee:
        if visibility == Note.Visibility.PARTY:
            if party is None:
                raise ValidationFailed("A party-visible note must name the party.", field="party")
            row = _party_in_case(access, party)
    else:
        # A party writes to the committee: visible to them and the committee, nobody else.
        if visibility != Note.Visibility.PARTY:
            raise PermissionDenied("Parties can only send messages to the committee.")
        if party is not None:
            row = _party_in_case(access, party)
            if row.pk not in access.party_ids:
                raise PermissionDenied("You can only write in your own name.")
        else:
            row = access.parties[0]
    note = _create(
        Note(
            case=access.case,
            author=access.user,
            visibility=visibility,
            party=row,
            body=_text(body, "body"),
        )
    )
    if visibility != Note.Visibility.PERSONAL:
        event_record(
            case=access.case,
            kind="note_added" if visibility == Note.Visibility.INTERNAL else "message",
            summary="Internal note added." if row is None else "Message exchanged with a party.",
            actor=access.user,
            data={"note": note.pk, "visibility": visibility},
            visible_to_parties=row is not None,
            party=row,
        )
    return note


RESPONSE_CLOCKS: dict[str, tuple[str, ...]] = {
    Response.Kind.DRAFT_REPORT_COMMENT: ("respondent_comment", "complainant_comment"),
    Response.Kind.STATEMENT: ("respondent_response",),
}


def _store_attachment(response: Response, upload: UploadedFile) -> ResponseAttachment:
    if upload.size is None or upload.size > MAX_ATTACHMENT_BYTES:
        raise ValidationFailed(
            f"Attachment {upload.name!r} is larger than "
            f"{MAX_ATTACHMENT_BYTES // (1024 * 1024)} MiB.",
            field="attachments",
        )
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    name = (upload.name or "attachment").replace("/", "_").replace("\\", "_")[-255:]
    attachment = ResponseAttachment(
        response=response, filename=name, size=upload.size, sha256=digest.hexdigest()
    )
    attachment.file.save(name, upload, save=False)
    attachment.save(force_insert=True)
    return attachment


def response_submit(
    *,
    access: CaseAccess,
    kind: str,
    body: str,
    party: CaseParty | int | None = None,
    attachments: Sequence[UploadedFile] = (),
    now: datetime | None = None,
) -> Response:
    """A party's statement or comments, bound to the clock that governs it when there is one."""
    if kind not in Response.Kind.values:
        raise ValidationFailed(
            f"kind must be one of {', '.join(Response.Kind.values)}.", field="kind"
        )
    if len(attachments) > MAX_ATTACHMENTS:
        raise ValidationFailed(f"At most {MAX_ATTACHMENTS} attachments.", field="attachments")
    if party is None:
        if not access.parties:
            raise ValidationFailed(
                "Name the party on whose behalf the response is made.", field="party"
            )
        row = access.parties[0]
    else:
        row = _party_in_case(access, party)
    if row.pk not in access.party_ids:
        require_roles(access, {wf.INTEGRITY_OFFICER}, "file a response on a party's behalf")
    if row.role == wf.WITNESS and kind == Response.Kind.DRAFT_REPORT_COMMENT:
        raise ValidationFailed("Witnesses do not comment on the draft report.", field="kind")
    now = now or timezone.now()
    stored: list[str] = []
    try:
        with transaction.atomic():
            case = _lock(access)
            _require_open(case, "submit responses")
            clock = None
            keys = RESPONSE_CLOCKS.get(kind, ())
            if keys:
                clock = (
                    Clock.objects.filter(case=case, key__in=keys, party=row)
                    .order_by("-started_at")
                    .first()
                )
                if clock is None and kind == Response.Kind.DRAFT_REPORT_COMMENT:
                    raise Conflict("No comment period is open for this party.", field="kind")
                if clock is not None and clock.status != Clock.Status.RUNNING:
                    raise Conflict(
                        f"The period '{clock.label}' was closed at {clock.stopped_at.isoformat()}; "  # type: ignore[union-attr]
                        "no further submissions are accepted.",
                        field="kind",
                    )
                if clock is not None and now > clock.due_at:
                    raise Conflict(
                        f"The period '{clock.label}' ended at {clock.due_at.isoformat()}; ask the "
                        "integrity office for an extension.",
                        field="kind",
                        extra={"due_at": clock.due_at.isoformat()},
                    )
            response = _create(
                Response(
                    case=case,
                    party=row,
                    kind=kind,
                    body=_text(body, "body"),
                    clock=clock,
                    submitted_by=access.user,
                )
            )
            for upload in attachments:
                att = _store_attachment(response, upload)
                stored.append(att.file.name)
            event_record(
                case=case,
                kind="response_submitted",
                summary=(
                    f"{response.get_kind_display()} submitted by the "
                    f"{row.get_role_display().lower()}."
                ),
                actor=access.user,
                data={
                    "response": response.pk,
                    "kind": kind,
                    "clock": clock.pk if clock else None,
                    "attachments": [a.sha256 for a in response.attachments.all()],
                },
                visible_to_parties=True,
                party=row,
                at=now,
            )
            return response
    except Exception:
        from django.core.files.storage import default_storage

        for name in stored:  # the transaction rolled back: remove the bytes it had written
            default_storage.delete(name)
        raise


# --- Findings, votes, sanctions, appeals ----------------------------------------------------------

FINDING_CLOSED_STATES = frozenset({"decided", "appeal", "closed"})


@transaction.atomic
def finding_record(
    *,
    access: CaseAccess,
    allegation: Allegation | int,
    outcome: str,
    standard_of_proof: str,
    intent: str,
    rationale: str,
) -> Finding:
    require_roles(access, {wf.INTEGRITY_OFFICER, wf.CHAIR}, "record findings")
    case = _lock(access)
    if case.state in FINDING_CLOSED_STATES or case.workflow_def.is_terminal(case.state):
        raise Conflict(f"Findings can no longer be changed in state '{case.state}'.")
    pk = allegation.pk if isinstance(allegation, Allegation) else allegation
    row = Allegation.objects.filter(case=case, pk=pk).first()
    if row is None:
        raise NotFound(f"No allegation {pk!r} in case {case.number}.")
    if outcome == Finding.Outcome.NO_MISCONDUCT:
        intent = intent or Finding.Intent.NOT_APPLICABLE
    if outcome != Finding.Outcome.NO_MISCONDUCT and intent == Finding.Intent.NOT_APPLICABLE:
        raise ValidationFailed(
            "A finding of misconduct must state intent: intentional, knowing or reckless.",
            field="intent",
        )
    finding = Finding.objects.filter(allegation=row).first() or Finding(allegation=row)
    created = finding.pk is None
    finding.outcome = outcome
    finding.standard_of_proof = standard_of_proof
    finding.intent = intent
    finding.rationale = _text(rationale, "rationale")
    finding.recorded_by = access.user
    _validated(finding, exclude=["allegation"])
    finding.save()
    if not created:
        finding.votes.all().delete()  # votes were cast on the earlier text
    event_record(
        case=case,
        kind="finding_recorded" if created else "finding_revised",
        summary=f"Finding on allegation {row.pk}: {finding.get_outcome_display()}.",
        actor=access.user,
        data={"finding": finding.pk, "allegation": row.pk, "outcome": outcome, "intent": intent},
    )
    return finding


@transaction.atomic
def finding_vote(
    *, access: CaseAccess, finding: Finding | int, vote: str, comment: str = ""
) -> FindingVote:
    if not access.is_committee:
        raise PermissionDenied("Only committee members vote on findings.")
    pk = finding.pk if isinstance(finding, Finding) else finding
    row = Finding.objects.filter(allegation__case=access.case, pk=pk).first()
    if row is None:
        raise NotFound(f"No finding {pk!r} in case {access.case.number}.")
    if _lock(access).state in FINDING_CLOSED_STATES:
        raise Conflict("Voting on findings has closed.")
    seat = (
        CaseMember.objects.filter(case=access.case, user=access.user, recused_at__isnull=True)
        .filter(role__in=[wf.INTEGRITY_OFFICER, wf.CHAIR, wf.COMMITTEE_MEMBER])
        .order_by("id")
        .first()
    )
    if seat is None:
        raise PermissionDenied(
            "Only the chair and members seated on this case's committee vote on findings."
        )
    if vote not in FindingVote.Vote.values:
        raise ValidationFailed(
            f"vote must be one of {', '.join(FindingVote.Vote.values)}.", field="vote"
        )
    if FindingVote.objects.filter(finding=row, member=seat).exists():
        raise Conflict("You have already voted on this finding.")
    ballot = _create(
        FindingVote(
            finding=row, member=seat, vote=vote, comment=_text(comment, "comment", required=False)
        )
    )
    event_record(
        case=access.case,
        kind="finding_vote",
        summary=f"Vote on finding {row.pk}: {ballot.get_vote_display()}.",
        actor=access.user,
        data={"finding": row.pk, "vote": vote},
    )
    return ballot


@transaction.atomic
def sanction_add(
    *,
    access: CaseAccess,
    respondent: CaseParty | int,
    kind: str,
    description: str,
    due_date: date | str | None = None,
) -> Sanction:
    require_roles(access, {wf.INTEGRITY_OFFICER, wf.DECIDING_OFFICIAL}, "impose sanctions")
    if access.case.state not in FINDING_CLOSED_STATES:
        raise Conflict("Sanctions and remedies follow the decision; record the decision first.")
    row = _party_in_case(access, respondent, wf.RESPONDENT)
    if (
        not Finding.objects.filter(allegation__respondent=row)
        .exclude(outcome=Finding.Outcome.NO_MISCONDUCT)
        .exists()
    ):
        raise Conflict("No finding against this respondent supports a sanction.")
    sanction = _create(
        Sanction(
            case=access.case,
            respondent=row,
            kind=kind,
            description=_text(description, "description"),
            due_date=_parse_date(due_date, "due_date"),
            created_by=access.user,
        )
    )
    event_record(
        case=access.case,
        kind="sanction_imposed",
        summary=f"{sanction.get_kind_display()} required of a respondent.",
        actor=access.user,
        data={"sanction": sanction.pk, "kind": kind},
        visible_to_parties=True,
        party=row,
    )
    return sanction


@transaction.atomic
def sanction_complete(
    *, access: CaseAccess, sanction: Sanction | int, status: str, proof: str
) -> Sanction:
    require_roles(access, {wf.INTEGRITY_OFFICER}, "close sanctions")
    pk = sanction.pk if isinstance(sanction, Sanction) else sanction
    row = Sanction.objects.select_for_update().filter(case=access.case, pk=pk).first()
    if row is None:
        raise NotFound(f"No sanction {pk!r} in case {access.case.number}.")
    if row.status != Sanction.Status.OPEN:
        raise Conflict(f"This sanction is already {row.status}.")
    if status not in (Sanction.Status.DONE, Sanction.Status.WAIVED):
        raise ValidationFailed("status must be 'done' or 'waived'.", field="status")
    row.status = status
    row.proof = _text(proof, "proof")
    row.completed_at = timezone.now()
    _validated(row)
    row.save(update_fields=["status", "proof", "completed_at"])
    event_record(
        case=access.case,
        kind="sanction_completed",
        summary=f"{row.get_kind_display()}: {row.get_status_display()}.",
        actor=access.user,
        data={"sanction": row.pk, "status": status},
        visible_to_parties=True,
        party=row.respondent,
    )
    return row


@transaction.atomic
def appeal_file(
    *,
    access: CaseAccess,
    grounds: str,
    appellant: CaseParty | int | None = None,
    expected_version: int | None = None,
) -> Appeal:
    if appellant is None:
        respondents = [p for p in access.parties if p.role == wf.RESPONDENT]
        if not respondents:
            raise ValidationFailed("Name the respondent who appeals.", field="appellant")
        row = respondents[0]
    else:
        row = _party_in_case(access, appellant, wf.RESPONDENT)
    if row.pk not in access.party_ids:
        require_roles(access, {wf.INTEGRITY_OFFICER}, "file an appeal on a respondent's behalf")
    grounds = _text(grounds, "grounds")
    case = _lock(access, expected_version)
    now = timezone.now()
    transition = _checked_transition(case, access, "file_appeal", reason=grounds, now=now)
    appeal = _create(Appeal(case=case, appellant=row, grounds=grounds, filed_by=access.user))
    _apply_transition(case, transition, actor=access.user, reason=grounds, now=now)
    event_record(
        case=case,
        kind="appeal_filed",
        summary="Appeal filed by a respondent.",
        actor=access.user,
        data={"appeal": appeal.pk},
        visible_to_parties=True,
        party=row,
        at=now,
    )
    return appeal


@transaction.atomic
def appeal_decide(
    *,
    access: CaseAccess,
    appeal: Appeal | int,
    status: str,
    decision: str,
    expected_version: int | None = None,
) -> Appeal:
    pk = appeal.pk if isinstance(appeal, Appeal) else appeal
    row = Appeal.objects.select_for_update().filter(case=access.case, pk=pk).first()
    if row is None:
        raise NotFound(f"No appeal {pk!r} in case {access.case.number}.")
    if row.status != Appeal.Status.PENDING:
        raise Conflict("This appeal was already decided.")
    if status not in (Appeal.Status.UPHELD, Appeal.Status.DENIED):
        raise ValidationFailed("status must be 'upheld' or 'denied'.", field="status")
    decision = _text(decision, "decision")
    case = _lock(access, expected_version)
    now = timezone.now()
    transition = _checked_transition(case, access, "decide_appeal", reason=decision, now=now)
    row.status = status
    row.decision = decision
    row.decided_at = now
    row.decided_by = access.user
    row.save(update_fields=["status", "decision", "decided_at", "decided_by"])
    _apply_transition(case, transition, actor=access.user, reason=decision, now=now)
    event_record(
        case=case,
        kind="appeal_decided",
        summary=f"Appeal {row.get_status_display().lower()}.",
        actor=access.user,
        data={"appeal": row.pk, "status": status},
        visible_to_parties=True,
        party=row.appellant,
        at=now,
    )
    return row
