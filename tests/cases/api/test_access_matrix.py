"""The access gate at the API: the whole cast against every endpoint under ``/api/v1/``.

* ``MATRIX`` holds one entry per route and method (some have two, for two kinds of input), each with
  the status every member of the cast gets and, for reads, exactly which items each of them sees.
  ``test_every_api_route_is_in_the_matrix`` fails when a route exists that the matrix does not
  cover, so an endpoint cannot be added without saying who may use it.
* Someone without access to a case (an outsider, a recused member) gets the same 404 as for a case
  that does not exist; an anonymous caller gets the same 403 ``not_authenticated`` either way
  (``SessionAuthentication`` comes first and sends no ``WWW-Authenticate`` header, so DRF answers
  403, not 401). Nobody gets a 403 that tells them a case exists.
* A refused write answers 403 with a message naming who may do it, and changes no stored row and
  no file of the evidence store.
* No party ever receives, in any response body (JSON, the browsable HTML or a download), the
  withheld complainant's or a witness's identity, internal or personal notes, votes, conflict
  declarations, another party's material, an exhibit (description, hash or bytes) not disclosed to
  them, or the reason for a legal hold.
* List endpoints run a fixed number of queries however many items they return.
* Over-long or malformed input is refused with 400 naming the field, and nothing is stored.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from analysis import services as analysis
from analysis.models import AnalysisRun
from cases import selectors, services
from cases import workflow as wf
from cases.evidence import services as evidence
from cases.evidence.models import EvidenceItem, LegalHold
from cases.models import (
    Allegation,
    Appeal,
    Case,
    CaseMember,
    CaseParty,
    Clock,
    Finding,
    Sanction,
    TimelineEvent,
)
from tests.conftest import ALLEGATION2_TEXT, ALLEGATION_TEXT
from tests.factories import UserFactory, password_for

pytestmark = pytest.mark.django_db

# --- The cast -------------------------------------------------------------------------------------

COMMITTEE = ("officer", "chair", "member", "deciding_official", "appeal_panel")
PARTIES = ("complainant", "respondent", "respondent2", "witness")
NO_ACCESS = ("recused", "outsider")
ROLES = COMMITTEE + PARTIES + NO_ACCESS + ("anonymous",)

GHOST_CASE = "SC-1999-0999"  # a case number that does not exist
GHOST_REPORT = "R-1999-GHOST999"  # a report reference that does not exist

# Texts planted in the case; who among the parties may ever receive each (the committee sees all of
# them, except the chair's personal note, which only the chair sees).
INTERNAL_NOTE = "MARK internal note: the first respondent's advisor phoned the office"
PERSONAL_NOTE = "MARK personal note of the chair: ask about the 2019 preprint"
VOTE_COMMENT = "MARK vote comment: the solver's comments are verbatim"
DECLARATION = "MARK declaration: no ties to either respondent"
RECUSAL_REASON = "Co-authored a paper with the first respondent."
COMPLAINANT_MESSAGE = "MARK message from the complainant to the committee"
COMPLAINANT_COMMENT = "MARK complainant's comment on the draft report"
EXTENSION_REASON = "MARK extension granted to the first respondent"
SANCTION_TEXT = "MARK retraction of thesis chapter 3"
APPEAL_GROUNDS = "The comparison ignored prior art."  # filed by advance(case, "appeal")
REPORT_TITLE = "MARK complainant's confidential report"
REPORT_NARRATIVE = "MARK narrative naming the complainant's lab"
ANONYMOUS_REPORT_TITLE = "MARK anonymous tip about another thesis"
OTHER_CASE_TITLE = "MARK a case none of the cast sits on"
# The evidence vault: an exhibit disclosed to the respondents, an internal one, the complainant's
# sealed probe set (registered by its SHA-256 alone) and a legal hold.
DISCLOSED_EXHIBIT = "MARK exhibit disclosed to the respondents: the thesis's solver"
DISCLOSED_BYTES = b"MARK bytes of the disclosed exhibit\n"
DISCLOSED_SHA = hashlib.sha256(DISCLOSED_BYTES).hexdigest()
INTERNAL_EXHIBIT = "MARK internal exhibit: the advisor's e-mail to the office"
INTERNAL_BYTES = b"MARK bytes of the internal exhibit\n"
INTERNAL_SHA = hashlib.sha256(INTERNAL_BYTES).hexdigest()
PROBE_SET = "MARK the complainant's sealed probe set"
PROBE_BYTES = b"MARK probe prompts only the complainant knows\n"
PROBE_SHA = hashlib.sha256(PROBE_BYTES).hexdigest()
HOLD_REASON = "MARK legal hold: the first respondent has filed suit"
# Analyses (the committee's alone): two internal source archives compared by a code-similarity run,
# once finished and once still queued. The suspect's class name reaches the finished run's report.
ORIGINAL_SOURCE = "MARK source archive of the published solver"
SUSPECT_SOURCE = "MARK source archive of the thesis's solver"
SUSPECT_IDENTIFIER = "MarkThesisSolverRenamed"
ORIGINAL_CODE = """
class PublishedSolver:
    def __init__(self, hidden_size, vocab):
        self.hidden_size = hidden_size
        self.vocab = vocab
        self.layers = [self.make_layer(i) for i in range(12)]

    def make_layer(self, index):
        scale = 1.0 / (index + 1)
        return {"index": index, "scale": scale, "width": self.hidden_size * 4}

    def forward(self, tokens):
        total = 0.0
        for layer in self.layers:
            for token in tokens:
                total += layer["scale"] * self.vocab.get(token, 0)
        return total / max(len(tokens), 1)
"""
SUSPECT_CODE = (
    ORIGINAL_CODE.replace("PublishedSolver", SUSPECT_IDENTIFIER)
    .replace("hidden_size", "dim")
    .replace("make_layer", "build_block")
    .replace("layers", "blocks")
)


def note_to(role: str) -> str:
    return f"MARK note from the office to the {role}."


def statement_of(role: str) -> str:
    return f"MARK statement of the {role}."


SECRETS: dict[str, frozenset[str]] = {
    "Cora Complainant": frozenset({"complainant"}),  # withheld from the other parties
    "Cora": frozenset({"complainant"}),
    "complainant@example.org": frozenset({"complainant"}),
    "Wes Witness": frozenset({"witness"}),  # witnesses are not shown to the parties
    "witness@example.org": frozenset({"witness"}),
    "respondent@example.org": frozenset({"respondent"}),
    "respondent2@example.org": frozenset({"respondent2"}),
    "Rex Recused": frozenset(),
    RECUSAL_REASON: frozenset(),
    INTERNAL_NOTE: frozenset(),
    PERSONAL_NOTE: frozenset(),
    VOTE_COMMENT: frozenset(),
    DECLARATION: frozenset(),
    COMPLAINANT_MESSAGE: frozenset({"complainant"}),
    COMPLAINANT_COMMENT: frozenset({"complainant"}),
    note_to("respondent"): frozenset({"respondent"}),
    note_to("respondent2"): frozenset({"respondent2"}),
    note_to("witness"): frozenset({"witness"}),
    statement_of("respondent"): frozenset({"respondent"}),
    statement_of("respondent2"): frozenset({"respondent2"}),
    statement_of("witness"): frozenset({"witness"}),
    ALLEGATION_TEXT: frozenset({"complainant", "respondent"}),
    ALLEGATION2_TEXT: frozenset({"complainant", "respondent2"}),
    EXTENSION_REASON: frozenset({"respondent"}),
    SANCTION_TEXT: frozenset({"respondent"}),
    APPEAL_GROUNDS: frozenset({"respondent"}),
    REPORT_TITLE: frozenset({"complainant"}),
    REPORT_NARRATIVE: frozenset({"complainant"}),
    ANONYMOUS_REPORT_TITLE: frozenset(),
    OTHER_CASE_TITLE: frozenset(),
    # Disclosure to "the respondent" is to every respondent of the case.
    DISCLOSED_EXHIBIT: frozenset({"respondent", "respondent2"}),
    DISCLOSED_BYTES.decode(): frozenset({"respondent", "respondent2"}),
    DISCLOSED_SHA: frozenset({"respondent", "respondent2"}),
    INTERNAL_EXHIBIT: frozenset(),
    INTERNAL_BYTES.decode(): frozenset(),
    INTERNAL_SHA: frozenset(),
    PROBE_SET: frozenset({"complainant"}),
    PROBE_SHA: frozenset({"complainant"}),
    HOLD_REASON: frozenset(),
    ORIGINAL_SOURCE: frozenset(),
    SUSPECT_SOURCE: frozenset(),
    SUSPECT_IDENTIFIER: frozenset(),  # in the finished run's report
}

# Stages of the research-misconduct workflow that a world can be built at, in order.
STAGES = (
    "assessment",
    "inquiry",
    "investigation_pending",
    "investigation",
    "draft_comment",
    "decision",
    "decided",
    "appeal",
)


@pytest.fixture(autouse=True)
def _fresh_throttles() -> None:
    """DRF's throttles count in the cache, which outlives a test; every test starts at zero."""
    cache.clear()


@pytest.fixture(autouse=True)
def _empty_evidence_store() -> Iterator[None]:
    """Each test leaves the evidence folder empty (database rows roll back; files do not)."""
    yield
    root = Path(settings.EVIDENCE_ROOT)
    if root.exists():
        for path in root.rglob("*"):
            if path.is_file():
                os.chmod(path, 0o640)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_snapshot_is_acquired(monkeypatch: pytest.MonkeyPatch) -> None:
    """A snapshot runs on commit, which the test transaction never reaches; should one run all
    the same, it fails here rather than reach the network."""

    def refuse(*, item_id: int) -> None:
        raise AssertionError(f"a snapshot was acquired (item {item_id}) in the access matrix")

    monkeypatch.setattr(evidence, "snapshot_run", refuse)


@pytest.fixture
def cast(case: Case, request: pytest.FixtureRequest) -> dict[str, Any]:
    people: dict[str, Any] = {role: request.getfixturevalue(role) for role in ROLES[:-1]}
    people["anonymous"] = AnonymousUser()
    return people


def gate(user: Any, case: Case) -> selectors.CaseAccess:
    return selectors.case_get_for_user(user=user, number=case.number)


# --- The world: the cast's case with something of every kind in it --------------------------------


@dataclass
class World:
    case: Case
    other_case: Case
    cast: dict[str, Any]
    party: dict[str, int] = field(default_factory=dict)  # cast role -> CaseParty id
    who: dict[int, str] = field(default_factory=dict)  # CaseParty id -> cast role
    seat: dict[str, int] = field(default_factory=dict)  # cast role -> CaseMember id
    reports: dict[str, str] = field(default_factory=dict)  # "complainant"/"anonymous" -> reference
    # "disclosed"/"internal"/"probe", and the analysed "original"/"suspect" archives -> id
    exhibit: dict[str, int] = field(default_factory=dict)
    hold: int = 0  # the legal hold's id
    run: dict[str, int] = field(default_factory=dict)  # "finished"/"queued" -> analysis run id

    @property
    def number(self) -> str:
        return self.case.number

    def ids(self, model: Any, **lookup: Any) -> int:
        return int(model.objects.filter(**lookup).values_list("pk", flat=True).get())

    def allegation(self, role: str) -> int:
        return self.ids(Allegation, respondent_id=self.party[role])

    def finding(self, role: str) -> int:
        return self.ids(Finding, allegation__respondent_id=self.party[role])

    def clock(self, key: str, role: str | None = None) -> int:
        party = self.party[role] if role else None
        return self.ids(Clock, case=self.case, key=key, party_id=party)

    def sanction(self, role: str) -> int:
        return self.ids(Sanction, case=self.case, respondent_id=self.party[role])

    def appeal(self, role: str) -> int:
        return self.ids(Appeal, case=self.case, appellant_id=self.party[role])


@pytest.fixture
def make_world(
    case: Case, cast: dict[str, Any], advance: Any, django_capture_on_commit_callbacks: Any
) -> Callable[[str], World]:
    """``make_world(stage)``: the cast's case walked to ``stage``, with along the way

    two reports (the complainant's, an anonymous one) and a second case only the office sees;
    an internal note, the chair's personal note, a note from the office to each party but the
    complainant and a message from the complainant; the member's declaration; statements of both
    respondents and the witness; then (from ``draft_comment``) findings with the chair's votes, an
    extension of the first respondent's comment period and the complainant's comment; (from
    ``decided``) a sanction on the first respondent; (at ``appeal``) the first respondent's appeal.
    In the evidence vault, from the start (see ``seed_evidence``): an exhibit disclosed to the
    respondents, an internal exhibit, the complainant's sealed probe set and a legal hold; and (see
    ``seed_analyses``) two internal source archives with a code-similarity run of them that has
    finished (its report and view stored as exhibits) and one still queued.
    """

    def build(stage: str = "appeal") -> World:
        assert stage in STAGES, stage
        officer, chair, member, complainant = (
            cast[r] for r in ("officer", "chair", "member", "complainant")
        )
        office = gate(officer, case)
        world = World(case=case, other_case=case, cast=cast)
        for role in PARTIES:
            world.party[role] = CaseParty.objects.get(case=case, party__user=cast[role]).pk
        world.who = {pk: role for role, pk in world.party.items()}
        for role in ("chair", "member", "recused", "deciding_official", "appeal_panel"):
            world.seat[role] = CaseMember.objects.get(case=case, user=cast[role]).pk

        world.reports["complainant"] = services.report_submit(
            reporter=complainant,
            mode="confidential",
            kind="code_plagiarism",
            title=REPORT_TITLE,
            narrative=REPORT_NARRATIVE,
        ).reference
        world.reports["anonymous"] = services.report_submit(
            reporter=None,
            mode="anonymous",
            kind="other",
            title=ANONYMOUS_REPORT_TITLE,
            narrative="Someone should look at this.",
        ).reference
        world.other_case = services.case_open(
            actor=officer, workflow="research_misconduct", title=OTHER_CASE_TITLE
        )
        services.note_add(access=office, body=INTERNAL_NOTE, visibility="internal")
        services.note_add(access=gate(chair, case), body=PERSONAL_NOTE, visibility="personal")
        for role in ("respondent", "respondent2", "witness"):
            services.note_add(
                access=office, body=note_to(role), visibility="party", party=world.party[role]
            )
        services.note_add(
            access=gate(complainant, case), body=COMPLAINANT_MESSAGE, visibility="party"
        )
        services.conflict_declare(
            access=gate(member, case),
            member=world.seat["member"],
            has_conflict=False,
            statement=DECLARATION,
        )
        for role in ("respondent", "respondent2", "witness"):
            services.response_submit(
                access=gate(cast[role], case), kind="statement", body=statement_of(role)
            )
        seed_evidence(world)
        seed_analyses(world, django_capture_on_commit_callbacks)

        for reached in STAGES[1 : STAGES.index(stage) + 1]:
            advance(case, reached)
            if reached == "draft_comment":
                chair_access = gate(chair, case)
                for finding in Finding.objects.filter(allegation__case=case):
                    services.finding_vote(
                        access=chair_access, finding=finding, vote="concur", comment=VOTE_COMMENT
                    )
                clock = Clock.objects.get(pk=world.clock("respondent_comment", "respondent"))
                services.clock_extend(
                    access=gate(officer, case),
                    clock=clock,
                    new_due_date=(clock.due_at + timedelta(days=10))
                    .astimezone(services.institution_tz())
                    .date(),
                    reason=EXTENSION_REASON,
                )
                services.response_submit(
                    access=gate(complainant, case),
                    kind="draft_report_comment",
                    body=COMPLAINANT_COMMENT,
                )
            if reached == "decided":
                services.sanction_add(
                    access=gate(officer, case),
                    respondent=world.party["respondent"],
                    kind="retraction",
                    description=SANCTION_TEXT,
                )
        case.refresh_from_db()
        assert case.state == stage
        return world

    return build


def seed_evidence(world: World) -> None:
    """Exhibits through the vault's services, as the office and the complainant add them."""
    office = gate(world.cast["officer"], world.case)
    disclosed = evidence.evidence_upload(
        access=office,
        upload=SimpleUploadedFile("solver.txt", DISCLOSED_BYTES),
        kind="document",
        description=DISCLOSED_EXHIBIT,
    )
    evidence.evidence_disclose(access=office, item=disclosed, to="respondent", purpose="notice")
    internal = evidence.evidence_upload(
        access=office,
        upload=SimpleUploadedFile("advisor.eml.txt", INTERNAL_BYTES),
        kind="document",
        description=INTERNAL_EXHIBIT,
    )
    probe = evidence.probe_set_commit(
        access=gate(world.cast["complainant"], world.case), description=PROBE_SET, sha256=PROBE_SHA
    )
    assert probe.status == EvidenceItem.Status.SEALED and probe.blob is None
    world.exhibit = {"disclosed": disclosed.pk, "internal": internal.pk, "probe": probe.pk}
    world.hold = evidence.legal_hold_place(access=office, reason=HOLD_REASON).pk


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def analysis_body(world: World) -> dict[str, Any]:
    return {
        "kind": "codesim",
        "inputs": {"original": [world.exhibit["original"]], "suspect": [world.exhibit["suspect"]]},
    }


def seed_analyses(world: World, on_commit: Any) -> None:
    """Two internal source archives, a run of them executed (runs start on commit, which the test
    transaction never reaches, so the callbacks are run here) and a second one left queued."""
    office = gate(world.cast["officer"], world.case)
    for key, name, files, description in (
        ("original", "published.zip", {"published/solver.py": ORIGINAL_CODE}, ORIGINAL_SOURCE),
        ("suspect", "thesis.zip", {"thesis/solver.py": SUSPECT_CODE}, SUSPECT_SOURCE),
    ):
        world.exhibit[key] = evidence.evidence_upload(
            access=office,
            upload=SimpleUploadedFile(name, zipped(files)),
            kind="source_archive",
            description=description,
        ).pk
    member = gate(world.cast["member"], world.case)
    inputs = analysis_body(world)["inputs"]
    with on_commit(execute=True):
        finished = analysis.analysis_start(access=member, kind="codesim", inputs=inputs)
    finished.refresh_from_db()
    assert finished.status == AnalysisRun.Status.SUCCEEDED, finished.failure_reason
    queued = analysis.analysis_start(access=office, kind="codesim", inputs=inputs)
    assert queued.status == AnalysisRun.Status.QUEUED
    world.run = {"finished": finished.pk, "queued": queued.pk}


# --- Talking to the API ---------------------------------------------------------------------------


def client_for(user: Any) -> APIClient:
    client = APIClient()
    if user is not None and user.is_authenticated:
        client.force_authenticate(user=user)
    return client


def is_form(body: Any) -> bool:
    """A body carrying a file goes as multipart/form-data (an upload); any other as JSON."""
    return isinstance(body, dict) and any(hasattr(v, "read") for v in body.values())


def call(client: APIClient, method: str, url: str, body: Any = None) -> Any:
    if method == "GET":
        return client.get(url)
    return getattr(client, method.lower())(
        url, body if body is not None else {}, format="multipart" if is_form(body) else "json"
    )


def content_of(response: Any) -> bytes:
    """The whole body, a streamed download included (read once: it logs the download)."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def results(data: Any) -> list[dict[str, Any]]:
    return data["results"] if isinstance(data, dict) and "results" in data else data


def get_all(client: APIClient, url: str) -> tuple[Any, list[Any]]:
    """GET a list, following ``next`` links: (first response, every item of every page)."""
    first = response = client.get(url)
    items: list[Any] = []
    while True:
        if response.status_code != 200:
            return first, []
        if getattr(response, "streaming", False):  # a download: its bytes are the one item
            return first, [content_of(response).decode()]
        data = response.json()
        items.extend(results(data) if isinstance(data, dict | list) else [])
        following = data.get("next") if isinstance(data, dict) else None
        if not following:
            return first, items
        response = client.get(following)


def error(response: Any) -> dict[str, Any]:
    return response.json()["error"]


def stored_files() -> list[str]:
    """Every file in the evidence store (temporary ones included)."""
    root = Path(settings.EVIDENCE_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def snapshot() -> dict[str, list[Any]]:
    """Every stored row of the case app (the evidence vault and the audit log among them) and of
    the analyses, the accounts, and the files of the evidence store: a refusal changes none."""
    models: list[Any] = [
        *apps.get_app_config("cases").get_models(),
        *apps.get_app_config("analysis").get_models(),
        User,
    ]
    rows: dict[str, list[Any]] = {
        m._meta.label: list(m._default_manager.order_by("pk").values()) for m in models
    }
    rows["evidence store"] = stored_files()
    return rows


def timeline_count(world: World) -> int:
    return TimelineEvent.objects.filter(case=world.case).count()


# --- Expected outcomes ----------------------------------------------------------------------------


def outcomes(status: int, **overrides: int) -> dict[str, int]:
    """``status`` for everyone who can see the case; 404 for those who cannot; 403 anonymous."""
    out = {role: status for role in COMMITTEE + PARTIES}
    out.update({role: 404 for role in NO_ACCESS})
    out["anonymous"] = 403
    out.update(overrides)
    return out


READ = outcomes(200)


def write(ok: int, allowed: Iterable[str], **overrides: int) -> dict[str, int]:
    """``ok`` for ``allowed``; 403 for the others who can see the case, 404/403 as in outcomes."""
    out = outcomes(403)
    out.update({role: ok for role in allowed})
    out.update(overrides)
    return out


def everyone(status: int, **overrides: int) -> dict[str, int]:
    """Outside any case: every logged-in user gets ``status``; anonymous 403."""
    out = {role: status for role in ROLES}
    out["anonymous"] = 403
    out.update(overrides)
    return out


def only(status: int, roles: Iterable[str], **overrides: int) -> dict[str, int]:
    """``status`` for ``roles``; 404 for everyone else in the case, who cannot see the item."""
    return outcomes(404, **{**{role: status for role in roles}, **overrides})


def same(labels: Iterable[str], roles: Iterable[str]) -> dict[str, frozenset[str]]:
    return {role: frozenset(labels) for role in roles}


Labels = Callable[[World, Any], frozenset[str]]


@dataclass(frozen=True)
class Entry:
    """One route and method, with what every member of the cast gets from it."""

    route: str  # URL name
    method: str
    url: Callable[[World], str]
    expect: Mapping[str, int]
    body: Callable[[World], Any] | None = None
    stage: str = "appeal"
    labels: Labels | None = None  # what a 200 shows, as comparable labels
    visible: Mapping[str, frozenset[str]] | None = None  # role -> labels, for every role given 200
    variant: str = ""

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}" + (f" ({self.variant})" if self.variant else "")


def api_case(number: str) -> str:
    """The API's URL of a case. Not ``reverse("case-detail")``: the case page (HTML) has that name
    too, and ``reverse`` gives the page."""
    return f"{reverse('case-list')}{number}/"


def in_case(route: str, **kwargs: Any) -> Callable[[World], str]:
    def url(world: World) -> str:
        extra = {k: (v(world) if callable(v) else v) for k, v in kwargs.items()}
        return reverse(route, kwargs={"case_number": world.number, **extra})

    return url


def party_labels(world: World, items: Any) -> frozenset[str]:
    return frozenset(f"{row['role']}:{row['name']}" for row in items)


def ref(key: str) -> Labels:
    """Items labelled by the cast role of the party they name (``respondent``, ``appellant``)."""
    return lambda world, items: frozenset(world.who[row[key]["id"]] for row in items)


def by(key: str, *flags: tuple[str, Callable[[dict[str, Any]], bool]]) -> Labels:
    """Items labelled by ``key``; plus a flag label when any item shows a redacted detail."""

    def labels(world: World, items: Any) -> frozenset[str]:
        out = {str(row[key]) for row in items}
        out |= {name for name, test in flags if any(test(row) for row in items)}
        return frozenset(out)

    return labels


def clock_labels(world: World, items: Any) -> frozenset[str]:
    out = set()
    for row in items:
        owner = world.who[row["party"]["id"]] if row["party"] else "-"
        out.add(f"{row['key']}/{owner}")
        if row["extensions"]:
            out.add(f"extension:{row['extensions'][0]['reason']}")
    return frozenset(out)


def response_labels(world: World, items: Any) -> frozenset[str]:
    return frozenset(f"{row['kind']}/{world.who[row['party']['id']]}" for row in items)


def case_labels(world: World, items: Any) -> frozenset[str]:
    names = {world.case.number: "case", world.other_case.number: "other case"}
    return frozenset(names.get(row["number"], row["number"]) for row in items)


TIMELINE_WATCH = (
    "party_added",
    "allegation_recorded",
    "member_added",
    "member_recused",
    "note_added",
    "message",
    "conflict_declared",
    "response_submitted",
    "finding_recorded",
    "finding_vote",
    "clock_extended",
    "sanction_imposed",
    "appeal_filed",
    "analysis_queued",
    "analysis_succeeded",
)


def timeline_labels(world: World, items: Any) -> frozenset[str]:
    kinds = Counter(row["kind"] for row in items)
    out = {f"{kind}x{kinds[kind]}" for kind in TIMELINE_WATCH if kinds[kind]}
    if any(row["data"] for row in items):
        out.add("data")
    if len(items) == timeline_count(world):
        out.add("all events")
    return frozenset(out)


OFFICE_DETAILS = "office details"  # who collected an exhibit, from where: the committee's


def office_details(row: dict[str, Any]) -> bool:
    return any(key in row for key in ("collected_by", "source", "metadata", "failure_reason"))


def exhibit_labels(world: World, items: Any) -> frozenset[str]:
    """Exhibits by description; an analysis's outputs (described by run number) by file name."""
    described = [row for row in items if row["kind"] != "analysis_output"]
    outputs = {f"output:{row['filename']}" for row in items if row["kind"] == "analysis_output"}
    return by("description", (OFFICE_DETAILS, office_details))(world, described) | outputs


def exhibit_label(world: World, data: Any) -> frozenset[str]:
    return exhibit_labels(world, [data])


def download_labels(world: World, body: bytes) -> frozenset[str]:
    return frozenset({body.decode()})


def custody_labels(world: World, data: Any) -> frozenset[str]:
    return frozenset(f"{row['action']}:{row['actor']}" for row in data)


def detail_roles(world: World, data: Any) -> frozenset[str]:
    return frozenset(data["my_roles"])


def transition_names(world: World, data: Any) -> frozenset[str]:
    return frozenset(t["name"] for t in data)


def run_labels(world: World, items: Any) -> frozenset[str]:
    names = {pk: key for key, pk in world.run.items()}
    return frozenset(f"{names.get(row['id'], row['id'])}:{row['status']}" for row in items)


def run_detail(world: World, data: Any) -> frozenset[str]:
    """The run, what went in (by exhibit) and what came out (by name)."""
    exhibits = {pk: key for key, pk in world.exhibit.items()}
    out = run_labels(world, [data])
    out |= {f"in:{row['role']}={exhibits.get(row['item'], row['item'])}" for row in data["inputs"]}
    return out | {f"out:{row['name']}" for row in data["outputs"]}


def report_labels(world: World, data: Any) -> frozenset[str]:
    """The report's best pair, and whether the suspect's identifiers are in it."""
    top = data["pairs"][0]
    out = {f"{top['left_path']} ~ {top['right_path']}"}
    return frozenset(
        out | ({SUSPECT_IDENTIFIER} if SUSPECT_IDENTIFIER in json.dumps(data) else set())
    )


# Who sees which items of each list, in the world at "appeal".
COMMITTEE_PARTIES = {
    "complainant:Cora Complainant",
    "respondent:Remy Respondent",
    "respondent:Rosa Second",
    "witness:Wes Witness",
}
NOTES_FOR_COMMITTEE = {INTERNAL_NOTE, COMPLAINANT_MESSAGE} | {
    note_to(r) for r in ("respondent", "respondent2", "witness")
}
COMMITTEE_CLOCKS = {
    "inquiry/-",
    "investigation_start/-",
    "investigation/-",
    "appeal_window/-",
    "respondent_comment/respondent",
    "respondent_comment/respondent2",
    "complainant_comment/complainant",
    f"extension:{EXTENSION_REASON}",
}
COMMITTEE_RESPONSES = {
    "statement/respondent",
    "statement/respondent2",
    "statement/witness",
    "draft_report_comment/respondent",
    "draft_report_comment/respondent2",
    "draft_report_comment/complainant",
}
COMMITTEE_TIMELINE = {
    "party_addedx4",
    "allegation_recordedx2",
    "member_addedx5",
    "member_recusedx1",
    "note_addedx1",
    "messagex4",
    "conflict_declaredx1",
    "response_submittedx6",
    "finding_recordedx2",
    "finding_votex2",
    "clock_extendedx1",
    "sanction_imposedx1",
    "appeal_filedx1",
    "analysis_queuedx2",
    "analysis_succeededx1",
    "data",
    "all events",
}
SEATED = {"chair", "member", "deciding", "panel"}  # usernames of the unrecused seats
EVIDENCE_WRITERS = ("officer", "chair", "member")  # add exhibits, request snapshots
RESPONDENTS = ("respondent", "respondent2")
SEES_DISCLOSED = COMMITTEE + RESPONDENTS  # the exhibit disclosed to the respondents
SEES_PROBE = COMMITTEE + ("complainant",)  # the complainant's probe set
COMMITTEE_EXHIBITS = {
    DISCLOSED_EXHIBIT,
    INTERNAL_EXHIBIT,
    PROBE_SET,
    OFFICE_DETAILS,
    ORIGINAL_SOURCE,
    SUSPECT_SOURCE,
    "output:codesim-report.json",
    "output:codesim-view.html",
}
RUNNERS = ("officer", "chair", "member")  # start analyses


def exhibit(key: str) -> Callable[[World], int]:
    return lambda world: world.exhibit[key]


def run(key: str) -> Callable[[World], int]:
    return lambda world: world.run[key]


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/plain")


MATRIX: tuple[Entry, ...] = (
    # --- The API root and intake reports (outside any case) ---
    Entry("api-root", "GET", lambda w: reverse("api-root"), everyone(200)),
    Entry(
        "report-list",
        "GET",
        lambda w: reverse("report-list"),
        everyone(200),
        labels=by("title"),
        visible={
            **same((), ROLES),
            "officer": frozenset({REPORT_TITLE, ANONYMOUS_REPORT_TITLE}),
            "complainant": frozenset({REPORT_TITLE}),
        },
    ),
    Entry(
        "report-list",
        "POST",
        lambda w: reverse("report-list"),
        everyone(201, anonymous=201),
        body=lambda w: {
            "mode": "anonymous",
            "kind": "other",
            "title": "A tip",
            "narrative": "Look at this.",
        },
    ),
    Entry(
        "report-detail",
        "GET",
        lambda w: reverse("report-detail", args=[w.reports["complainant"]]),
        everyone(404, officer=200, complainant=200),
        labels=lambda w, data: frozenset({data["title"], data["narrative"]}),
        visible=same({REPORT_TITLE, REPORT_NARRATIVE}, ("officer", "complainant")),
    ),
    Entry(
        "report-dismiss",
        "POST",
        lambda w: reverse("report-dismiss", args=[w.reports["complainant"]]),
        everyone(404, officer=200, complainant=403),
        body=lambda w: {"reason": "Outside our jurisdiction."},
    ),
    Entry(
        "report-open-case",
        "POST",
        lambda w: reverse("report-open-case", args=[w.reports["complainant"]]),
        everyone(404, officer=201, complainant=403),
        body=lambda w: {"workflow": "research_misconduct"},
    ),
    Entry(
        "report-merge",
        "POST",
        lambda w: reverse("report-merge", args=[w.reports["complainant"]]),
        everyone(404, officer=200, complainant=403),
        body=lambda w: {"case": w.number},
    ),
    # --- Cases ---
    Entry(
        "case-list",
        "GET",
        lambda w: reverse("case-list"),
        everyone(200),
        labels=case_labels,
        visible={
            **same({"case"}, COMMITTEE + PARTIES),
            "officer": frozenset({"case", "other case"}),
            **same((), NO_ACCESS),
        },
    ),
    Entry(
        "case-list",
        "POST",
        lambda w: reverse("case-list"),
        everyone(403, officer=201),
        body=lambda w: {"workflow": "research_misconduct", "title": "Opened by hand"},
    ),
    Entry(
        "case-detail",
        "GET",
        lambda w: api_case(w.number),
        READ,
        labels=detail_roles,
        visible={
            "officer": frozenset({wf.INTEGRITY_OFFICER}),
            "chair": frozenset({wf.CHAIR}),
            "member": frozenset({wf.COMMITTEE_MEMBER}),
            "deciding_official": frozenset({wf.DECIDING_OFFICIAL}),
            "appeal_panel": frozenset({wf.APPEAL_PANEL}),
            "complainant": frozenset({wf.COMPLAINANT}),
            "respondent": frozenset({wf.RESPONDENT}),
            "respondent2": frozenset({wf.RESPONDENT}),
            "witness": frozenset({wf.WITNESS}),
        },
    ),
    Entry(
        "case-transitions",
        "GET",
        lambda w: reverse("case-transitions", args=[w.number]),
        READ,
        labels=transition_names,
        visible={**same((), COMMITTEE + PARTIES), "appeal_panel": frozenset({"decide_appeal"})},
    ),
    Entry(
        "case-transitions",
        "POST",
        lambda w: reverse("case-transitions", args=[w.number]),
        write(200, ["officer"]),
        body=lambda w: {"name": "close"},
        stage="decided",
    ),
    # --- Parties ---
    Entry(
        "case-party-list",
        "GET",
        in_case("case-party-list"),
        READ,
        labels=party_labels,
        visible={
            **same(COMMITTEE_PARTIES, COMMITTEE),
            "complainant": frozenset(COMMITTEE_PARTIES - {"witness:Wes Witness"}),
            # A party whose identity is withheld is not listed to the other parties at all.
            **same(
                {"respondent:Remy Respondent", "respondent:Rosa Second"},
                ("respondent", "respondent2"),
            ),
            "witness": frozenset(
                {"respondent:Remy Respondent", "respondent:Rosa Second", "witness:Wes Witness"}
            ),
        },
    ),
    Entry(
        "case-party-list",
        "POST",
        in_case("case-party-list"),
        write(201, ["officer", "chair"]),
        body=lambda w: {"name": "Nell Newwitness", "role": "witness"},
    ),
    Entry(
        "case-party-link",
        "POST",
        in_case("case-party-link", pk=lambda w: w.party["complainant"]),
        # The complainant's identity is withheld: the other parties cannot see the row at all.
        write(200, ["officer"], respondent=404, respondent2=404, witness=404),
        body=lambda w: {"username": "complainant"},
    ),
    # --- Allegations ---
    Entry(
        "case-allegation-list",
        "GET",
        in_case("case-allegation-list"),
        READ,
        labels=by("description"),
        visible={
            **same({ALLEGATION_TEXT, ALLEGATION2_TEXT}, COMMITTEE + ("complainant",)),
            "respondent": frozenset({ALLEGATION_TEXT}),
            "respondent2": frozenset({ALLEGATION2_TEXT}),
            "witness": frozenset(),
        },
    ),
    Entry(
        "case-allegation-list",
        "POST",
        in_case("case-allegation-list"),
        write(201, ["officer", "chair"]),
        body=lambda w: {
            "respondent": w.party["respondent"],
            "kind": "other",
            "description": "Also the figures.",
        },
    ),
    # --- Committee ---
    Entry(
        "case-member-list",
        "GET",
        in_case("case-member-list"),
        READ,
        labels=by(
            "username",
            ("declarations", lambda row: bool(row["declarations"])),
            ("recusal details", lambda row: "recusal_reason" in row),
        ),
        visible={
            **same(SEATED | {"recused", "declarations", "recusal details"}, COMMITTEE),
            **same(SEATED, PARTIES),
        },
    ),
    Entry(
        "case-member-list",
        "POST",
        in_case("case-member-list"),
        write(201, ["officer"]),
        body=lambda w: {"username": "outsider", "role": "committee_member"},
    ),
    Entry(
        "case-member-recuse",
        "POST",
        in_case("case-member-recuse", pk=lambda w: w.seat["member"]),
        write(200, ["officer", "member"]),
        body=lambda w: {"reason": "Stepping down."},
    ),
    Entry(
        "case-member-declarations",
        "POST",
        in_case("case-member-declarations", pk=lambda w: w.seat["member"]),
        write(201, ["officer", "member"]),
        body=lambda w: {"has_conflict": False, "statement": "Still no ties."},
    ),
    # --- Clocks ---
    Entry(
        "case-clock-list",
        "GET",
        in_case("case-clock-list"),
        READ,
        labels=clock_labels,
        visible={
            **same(COMMITTEE_CLOCKS, COMMITTEE),
            "complainant": frozenset({"complainant_comment/complainant"}),
            # A respondent: their own comment period, and the appeal window that binds respondents.
            "respondent": frozenset(
                {
                    "respondent_comment/respondent",
                    "appeal_window/-",
                    f"extension:{EXTENSION_REASON}",
                }
            ),
            "respondent2": frozenset({"respondent_comment/respondent2", "appeal_window/-"}),
            "witness": frozenset(),
        },
    ),
    Entry(
        "case-clock-extend",
        "POST",
        in_case("case-clock-extend", pk=lambda w: w.clock("respondent_comment", "respondent")),
        # The first respondent's clock: the other parties cannot see it, so it is not there.
        write(201, ["officer", "chair"], respondent2=404, complainant=404, witness=404),
        body=lambda w: {
            "new_due_date": (
                Clock.objects.get(pk=w.clock("respondent_comment", "respondent")).due_at
                + timedelta(days=20)
            )
            .date()
            .isoformat(),
            "reason": "Illness.",
        },
        stage="draft_comment",
    ),
    # --- Notes and messages ---
    Entry(
        "case-note-list",
        "GET",
        in_case("case-note-list"),
        READ,
        labels=by("body"),
        visible={
            **same(NOTES_FOR_COMMITTEE, COMMITTEE),
            "chair": frozenset(NOTES_FOR_COMMITTEE | {PERSONAL_NOTE}),
            "complainant": frozenset({COMPLAINANT_MESSAGE}),
            "respondent": frozenset({note_to("respondent")}),
            "respondent2": frozenset({note_to("respondent2")}),
            "witness": frozenset({note_to("witness")}),
        },
    ),
    Entry(
        "case-note-list",
        "POST",
        in_case("case-note-list"),
        write(201, COMMITTEE),
        body=lambda w: {"body": "Committee only.", "visibility": "internal"},
        variant="internal note",
    ),
    Entry(
        "case-note-list",
        "POST",
        in_case("case-note-list"),
        # A party writes to the committee; the committee must name the party it writes to.
        outcomes(201, **{role: 400 for role in COMMITTEE}),
        body=lambda w: {"body": "A message.", "visibility": "party"},
        variant="message",
    ),
    # --- Responses ---
    Entry(
        "case-response-list",
        "GET",
        in_case("case-response-list"),
        READ,
        labels=response_labels,
        visible={
            **same(COMMITTEE_RESPONSES, COMMITTEE),
            "complainant": frozenset({"draft_report_comment/complainant"}),
            "respondent": frozenset({"statement/respondent", "draft_report_comment/respondent"}),
            "respondent2": frozenset({"statement/respondent2", "draft_report_comment/respondent2"}),
            "witness": frozenset({"statement/witness"}),
        },
    ),
    Entry(
        "case-response-list",
        "POST",
        in_case("case-response-list"),
        write(201, ["officer", "respondent"]),
        body=lambda w: {
            "kind": "statement",
            "body": "More context.",
            "party": w.party["respondent"],
        },
    ),
    # --- Findings and votes ---
    Entry(
        "case-finding-list",
        "GET",
        in_case("case-finding-list"),
        READ,
        labels=lambda w, items: (
            ref("respondent")(w, items)
            | ({"votes"} if any(row["votes"] for row in items) else set())
        ),
        visible={
            **same({"respondent", "respondent2", "votes"}, COMMITTEE),
            "complainant": frozenset({"respondent", "respondent2"}),
            "respondent": frozenset({"respondent"}),
            "respondent2": frozenset({"respondent2"}),
            "witness": frozenset(),
        },
    ),
    Entry(
        "case-finding-list",
        "POST",
        in_case("case-finding-list"),
        write(201, ["officer", "chair"]),
        body=lambda w: {
            "allegation": w.allegation("respondent"),
            "outcome": "misconduct",
            "standard_of_proof": "preponderance",
            "intent": "reckless",
            "rationale": "Revised.",
        },
        stage="draft_comment",
    ),
    Entry(
        "case-finding-votes",
        "POST",
        in_case("case-finding-votes", pk=lambda w: w.finding("respondent")),
        # Parties see no finding before the decision; the chair has voted already; the officer
        # holds no seat, and the deciding official and the appeal panel decide rather than vote.
        write(201, ["member"], chair=409, **{role: 404 for role in PARTIES}),
        body=lambda w: {"vote": "dissent"},
        stage="draft_comment",
    ),
    # --- Sanctions ---
    Entry(
        "case-sanction-list",
        "GET",
        in_case("case-sanction-list"),
        READ,
        labels=ref("respondent"),
        visible={
            **same({"respondent"}, COMMITTEE + ("respondent",)),
            **same((), ("complainant", "respondent2", "witness")),
        },
    ),
    Entry(
        "case-sanction-list",
        "POST",
        in_case("case-sanction-list"),
        write(201, ["officer", "deciding_official"]),
        body=lambda w: {
            "respondent": w.party["respondent"],
            "kind": "correction",
            "description": "Correct it.",
        },
    ),
    Entry(
        "case-sanction-complete",
        "POST",
        in_case("case-sanction-complete", pk=lambda w: w.sanction("respondent")),
        write(200, ["officer"], complainant=404, respondent2=404, witness=404),
        body=lambda w: {"status": "done", "proof": "Retraction notice published."},
    ),
    # --- Appeals ---
    Entry(
        "case-appeal-list",
        "GET",
        in_case("case-appeal-list"),
        READ,
        labels=ref("appellant"),
        visible={
            **same({"respondent"}, COMMITTEE + ("respondent",)),
            **same((), ("complainant", "respondent2", "witness")),
        },
    ),
    Entry(
        "case-appeal-list",
        "POST",
        in_case("case-appeal-list"),
        write(201, ["officer", "respondent"]),
        body=lambda w: {"grounds": "New evidence.", "appellant": w.party["respondent"]},
        stage="decided",
    ),
    Entry(
        "case-appeal-decide",
        "POST",
        in_case("case-appeal-decide", pk=lambda w: w.appeal("respondent")),
        write(200, ["appeal_panel"], complainant=404, respondent2=404, witness=404),
        body=lambda w: {"status": "denied", "decision": "The decision stands."},
    ),
    # --- Timeline ---
    Entry(
        "case-timeline-list",
        "GET",
        in_case("case-timeline-list"),
        READ,
        labels=timeline_labels,
        visible={
            **same(COMMITTEE_TIMELINE, COMMITTEE),
            "complainant": frozenset({"messagex1", "response_submittedx1"}),
            "respondent": frozenset(
                {
                    "allegation_recordedx1",
                    "messagex1",
                    "response_submittedx2",
                    "clock_extendedx1",
                    "sanction_imposedx1",
                    "appeal_filedx1",
                }
            ),
            "respondent2": frozenset(
                {"allegation_recordedx1", "messagex1", "response_submittedx2"}
            ),
            "witness": frozenset({"messagex1", "response_submittedx1"}),
        },
    ),
    # --- Evidence ---
    Entry(
        "case-evidence-list",
        "GET",
        in_case("case-evidence-list"),
        READ,
        labels=exhibit_labels,
        visible={
            **same(COMMITTEE_EXHIBITS, COMMITTEE),
            **same({DISCLOSED_EXHIBIT}, RESPONDENTS),
            "complainant": frozenset({PROBE_SET}),  # their own, still sealed
            "witness": frozenset(),
        },
    ),
    Entry(
        "case-evidence-list",
        "POST",
        in_case("case-evidence-list"),
        write(201, EVIDENCE_WRITERS),
        body=lambda w: {
            "file": upload("minutes.txt", b"Minutes of the interview.\n"),
            "kind": "document",
            "description": "Minutes of the interview.",
        },
    ),
    Entry(
        "case-evidence-detail",
        "GET",
        in_case("case-evidence-detail", pk=exhibit("disclosed")),
        only(200, SEES_DISCLOSED),
        labels=exhibit_label,
        visible={
            **same({DISCLOSED_EXHIBIT, OFFICE_DETAILS}, COMMITTEE),
            **same({DISCLOSED_EXHIBIT}, RESPONDENTS),
        },
        variant="disclosed exhibit",
    ),
    Entry(
        "case-evidence-detail",
        "GET",
        in_case("case-evidence-detail", pk=exhibit("internal")),
        only(200, COMMITTEE),
        labels=exhibit_label,
        visible=same({INTERNAL_EXHIBIT, OFFICE_DETAILS}, COMMITTEE),
        variant="internal exhibit",
    ),
    Entry(
        "case-evidence-detail",
        "GET",
        in_case("case-evidence-detail", pk=exhibit("probe")),
        only(200, SEES_PROBE),
        labels=exhibit_label,
        visible={
            **same({PROBE_SET, OFFICE_DETAILS}, COMMITTEE),
            "complainant": frozenset({PROBE_SET}),
        },
        variant="sealed probe set",
    ),
    Entry(
        "case-evidence-download",
        "GET",
        in_case("case-evidence-download", pk=exhibit("disclosed")),
        only(200, SEES_DISCLOSED),
        labels=download_labels,
        visible=same({DISCLOSED_BYTES.decode()}, SEES_DISCLOSED),
        variant="disclosed exhibit",
    ),
    Entry(
        "case-evidence-download",
        "GET",
        in_case("case-evidence-download", pk=exhibit("internal")),
        only(200, COMMITTEE),
        labels=download_labels,
        visible=same({INTERNAL_BYTES.decode()}, COMMITTEE),
        variant="internal exhibit",
    ),
    Entry(
        "case-evidence-download",
        "GET",
        in_case("case-evidence-download", pk=exhibit("probe")),
        only(409, SEES_PROBE),  # sealed: there are no bytes until it is revealed
        variant="sealed probe set",
    ),
    Entry(
        "case-evidence-custody",
        "GET",
        in_case("case-evidence-custody", pk=exhibit("disclosed")),
        # The chain of custody is the committee's, even of an exhibit a party may see.
        only(200, COMMITTEE, respondent=403, respondent2=403),
        labels=custody_labels,
        visible=same({"acquired:officer", "disclosed:officer"}, COMMITTEE),
    ),
    Entry(
        "case-evidence-disclose",
        "POST",
        in_case("case-evidence-disclose", pk=exhibit("internal")),
        only(403, COMMITTEE, officer=200, chair=200),  # parties cannot see the exhibit
        body=lambda w: {"to": "respondent", "purpose": "For the respondent's comment."},
    ),
    Entry(
        "case-evidence-snapshot",
        "POST",
        in_case("case-evidence-snapshot"),
        write(202, EVIDENCE_WRITERS),  # queued; acquired after commit, never in these tests
        body=lambda w: {
            "kind": "web",
            "source": "https://example.org/page",
            "description": "The lab's page as it stands.",
        },
    ),
    Entry(
        "case-evidence-probe-sets",
        "POST",
        in_case("case-evidence-probe-sets"),
        write(201, SEES_PROBE),
        body=lambda w: {"description": "A second probe set.", "sha256": "ab" * 32},
        variant="sealed, by its hash",
    ),
    Entry(
        "case-evidence-probe-sets",
        "POST",
        in_case("case-evidence-probe-sets"),
        write(201, SEES_PROBE),
        body=lambda w: {
            "description": "A second probe set.",
            "file": upload("probes.txt", b"Prompts, uploaded at once.\n"),
        },
        variant="uploaded",
    ),
    Entry(
        "case-evidence-reveal",
        "POST",
        in_case("case-evidence-reveal", pk=exhibit("probe")),
        only(200, SEES_PROBE),
        body=lambda w: {"file": upload("probes.txt", PROBE_BYTES)},
        variant="the committed bytes",
    ),
    Entry(
        "case-evidence-reveal",
        "POST",
        in_case("case-evidence-reveal", pk=exhibit("probe")),
        only(409, SEES_PROBE),  # refused: the hash does not match the commitment
        body=lambda w: {"file": upload("probes.txt", PROBE_BYTES + b"changed")},
        variant="other bytes",
    ),
    Entry(
        "case-evidence-dispose",
        "POST",
        in_case("case-evidence-dispose", pk=exhibit("disclosed")),
        # The office may dispose of evidence, but not while the case is open (retention).
        only(403, SEES_DISCLOSED, officer=409),
        body=lambda w: {"reason": "Retention schedule."},
    ),
    # --- Legal holds ---
    Entry(
        "case-legal-hold-list",
        "GET",
        in_case("case-legal-hold-list"),
        READ,
        labels=by("reason"),
        visible={**same({HOLD_REASON}, COMMITTEE), **same((), PARTIES)},
    ),
    Entry(
        "case-legal-hold-list",
        "POST",
        in_case("case-legal-hold-list"),
        write(201, ["officer"]),
        body=lambda w: {"reason": "A second suit."},
    ),
    Entry(
        "case-legal-hold-release",
        "POST",
        in_case("case-legal-hold-release", pk=lambda w: w.hold),
        write(200, ["officer"]),
    ),
    # --- Analyses (the committee's; a party sees a result only as an exhibit disclosed to them) ---
    Entry(
        "case-analysis-list",
        "GET",
        in_case("case-analysis-list"),
        READ,  # a party's list is empty
        labels=run_labels,
        visible={
            **same({"finished:succeeded", "queued:queued"}, COMMITTEE),
            **same((), PARTIES),
        },
    ),
    Entry(
        "case-analysis-list",
        "POST",
        in_case("case-analysis-list"),
        write(202, RUNNERS),  # queued; run after commit, never in the matrix
        body=analysis_body,
    ),
    Entry(
        "case-analysis-detail",
        "GET",
        in_case("case-analysis-detail", pk=run("finished")),
        only(200, COMMITTEE),
        labels=run_detail,
        visible=same(
            {
                "finished:succeeded",
                "in:original=original",
                "in:suspect=suspect",
                "out:report.json",
                "out:view.html",
            },
            COMMITTEE,
        ),
        variant="finished run",
    ),
    Entry(
        "case-analysis-detail",
        "GET",
        in_case("case-analysis-detail", pk=run("queued")),
        only(200, COMMITTEE),
        labels=run_detail,
        visible=same({"queued:queued", "in:original=original", "in:suspect=suspect"}, COMMITTEE),
        variant="queued run",
    ),
    Entry(
        "case-analysis-report",
        "GET",
        in_case("case-analysis-report", pk=run("finished")),
        only(200, COMMITTEE),
        labels=report_labels,
        visible=same({"published/solver.py ~ thesis/solver.py", SUSPECT_IDENTIFIER}, COMMITTEE),
        variant="finished run",
    ),
    Entry(
        "case-analysis-report",
        "GET",
        in_case("case-analysis-report", pk=run("queued")),
        only(409, COMMITTEE),  # no report yet
        variant="queued run",
    ),
)


# --- 1. The matrix covers every route -------------------------------------------------------------


def api_routes() -> set[tuple[str, str]]:
    """(URL name, HTTP method) of every route under /api/v1/, read from the URL resolver."""
    found: set[tuple[str, str]] = set()

    def walk(patterns: Iterable[Any], prefix: str) -> None:
        for pattern in patterns:
            path = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if path.startswith("api/v1/") or "api/v1/".startswith(path):
                    walk(pattern.url_patterns, path)
                continue
            assert isinstance(pattern, URLPattern)
            if not path.startswith("api/v1/"):
                continue
            callback = pattern.callback
            actions = getattr(callback, "actions", None)
            if actions:
                # DRF adds "head" to a viewset's shared actions on its first GET request, so
                # whether HEAD shows depends on what ran before; HEAD mirrors GET either way.
                methods = {m.upper() for m in actions if m != "head"}
            else:
                view = callback.cls  # type: ignore[attr-defined]
                methods = {
                    m.upper()
                    for m in view.http_method_names
                    if m not in ("options", "head") and hasattr(view, m)
                }
            for method in methods:
                found.add((pattern.name or path, method))

    walk(get_resolver().url_patterns, "")
    return found


def test_every_api_route_is_in_the_matrix() -> None:
    routes = api_routes()
    covered = {(entry.route, entry.method) for entry in MATRIX}
    assert len(routes) > 30  # the walk found the API
    missing = sorted(routes - covered)
    assert not missing, f"routes under /api/v1/ without an entry in MATRIX (add one): {missing}"
    stale = sorted(covered - routes)
    assert not stale, f"MATRIX entries for routes that do not exist: {stale}"


@pytest.mark.parametrize("entry", MATRIX, ids=lambda e: e.id)
def test_every_entry_says_what_every_member_of_the_cast_gets(entry: Entry) -> None:
    assert set(entry.expect) == set(ROLES), entry.id
    if entry.labels is not None:
        given = {role for role, status in entry.expect.items() if status == 200}
        assert set(entry.visible or {}) >= given, (
            f"{entry.id}: visible items not stated for {given}"
        )


# --- 2. The matrix --------------------------------------------------------------------------------


def check_refusal(entry: Entry, role: str, response: Any) -> list[str]:
    """A refusal's body: a clear error; a 403 to someone who can see the case names who may act."""
    problems = []
    body = response.json()
    if "error" not in body or not body["error"].get("message"):
        return [f"{role}: {response.status_code} without an error message: {body}"]
    err = body["error"]
    if response.status_code == 403:
        if role == "anonymous":
            if err["code"] != "not_authenticated":
                problems.append(f"{role}: 403 code {err['code']!r}, expected 'not_authenticated'")
        elif err["code"] != "permission_denied" or "permission to perform" in err["message"]:
            problems.append(f"{role}: 403 without a clear message: {err}")
    if response.status_code == 404 and err["code"] != "not_found":
        problems.append(f"{role}: 404 with code {err['code']!r}")
    return problems


def ghost(url: str, world: World) -> str:
    return url.replace(world.number, GHOST_CASE).replace(world.reports["complainant"], GHOST_REPORT)


def same_as_ghost(world: World, role: str, entry: Entry, url: str, response: Any) -> list[str]:
    """Someone without access cannot tell the real case (or report) from one that does not exist."""
    if ghost(url, world) == url:
        return []
    if response.streaming:
        return [f"{role}: received a download"]
    body = entry.body(world) if entry.body else None
    other = call(client_for(world.cast[role]), entry.method, ghost(url, world), body)
    real = json.dumps(response.json()).replace(world.number, GHOST_CASE)
    real = real.replace(world.reports["complainant"], GHOST_REPORT)
    if (response.status_code, real) != (other.status_code, json.dumps(other.json())):
        return [
            f"{role}: tells the real one from a ghost: {response.status_code} {real} vs "
            f"{other.status_code} {other.content!r}"
        ]
    return []


@pytest.mark.parametrize("entry", MATRIX, ids=lambda e: e.id)
def test_matrix(entry: Entry, make_world: Callable[[str], World]) -> None:
    world = make_world(entry.stage)
    problems: list[str] = []
    for role in ROLES:
        client = client_for(world.cast[role])
        url = entry.url(world)
        refused = entry.expect[role] >= 400
        before = snapshot() if refused else {}  # only a refusal is checked for changes
        events = timeline_count(world)
        with transaction.atomic():
            items: Any
            if entry.method == "GET" and entry.labels is not None and entry.route.endswith("-list"):
                response, items = get_all(client, url)
                raw = content_of(response)
            else:
                response = call(
                    client, entry.method, url, entry.body(world) if entry.body else None
                )
                raw = content_of(response)  # a download is read here, in the rollback: it is logged
                if response.streaming:
                    items = raw
                else:
                    items = response.json() if response.status_code == 200 else None
            expected = entry.expect[role]
            if response.status_code != expected:
                problems.append(
                    f"{role}: expected {expected}, got {response.status_code}: {raw[:300]!r}"
                )
            elif refused:
                problems.extend(check_refusal(entry, role, response))
                if snapshot() != before or timeline_count(world) != events:
                    problems.append(f"{role}: a refused {entry.method} changed stored rows")
            elif entry.labels is not None and expected == 200:
                seen = entry.labels(world, items)
                wanted = (entry.visible or {}).get(role, frozenset())
                if seen != wanted:
                    problems.append(
                        f"{role}: sees {sorted(seen)}; expected {sorted(wanted)} "
                        f"(extra {sorted(seen - wanted)}, missing {sorted(wanted - seen)})"
                    )
            if role in NO_ACCESS + ("anonymous",):
                problems.extend(same_as_ghost(world, role, entry, url, response))
            transaction.set_rollback(True)  # each role meets the same world
    assert not problems, f"{entry.id}:\n  " + "\n  ".join(problems)


def test_outsiders_get_not_found_before_their_input_is_read(
    make_world: Callable[[str], World],
) -> None:
    """Invalid input from someone without access still meets the gate first: 404, not a 400 that
    would answer for the case (or, for appointments, say which accounts exist)."""
    world = make_world("appeal")
    writes = [e for e in MATRIX if e.method == "POST" and e.expect["outsider"] == 404]
    assert writes
    for role in NO_ACCESS:
        client = client_for(world.cast[role])
        for entry in writes:
            for body in ({}, {"username": "ghost-account", "role": "chair"}):
                response = call(client, "POST", entry.url(world), body)
                assert response.status_code == 404, (role, entry.id, body, response.content)


def test_options_tells_nothing_to_those_without_access(make_world: Callable[[str], World]) -> None:
    world = make_world("appeal")
    for role in NO_ACCESS + ("anonymous",):
        client = client_for(world.cast[role])
        for entry in MATRIX:
            url = entry.url(world)
            response = client.options(url)
            other = client.options(ghost(url, world))
            assert response.status_code == other.status_code, (role, entry.id)
            if "case_number" in (get_resolver().resolve(url).kwargs or {}):  # the nested routes
                assert response.status_code in (403, 404), (role, entry.id, response.status_code)
            real = response.content.replace(world.number.encode(), GHOST_CASE.encode())
            assert real == other.content, (role, entry.id)


# --- Leaks: raw bodies ----------------------------------------------------------------------------


def readable_urls(world: World) -> list[str]:
    urls = [entry.url(world) for entry in MATRIX if entry.method == "GET"]
    return urls + [
        reverse("report-detail", args=[world.reports["anonymous"]]),
        api_case(world.other_case.number),
    ]


@pytest.mark.parametrize(
    "role", PARTIES + ("chair", "member", "appeal_panel") + NO_ACCESS + ("anonymous",)
)
def test_nobody_receives_what_they_must_not_see_in_any_body(
    role: str, make_world: Callable[[str], World]
) -> None:
    """Every readable endpoint, as JSON (every page) and as the browsable API's HTML; downloads."""
    world = make_world("appeal")
    client = client_for(world.cast[role])
    if role in COMMITTEE:
        forbidden = {PERSONAL_NOTE} if role != "chair" else set()
        forbidden |= {ANONYMOUS_REPORT_TITLE, REPORT_TITLE, OTHER_CASE_TITLE}
    else:
        forbidden = {text for text, allowed in SECRETS.items() if role not in allowed}
    fetched = 0
    for url in readable_urls(world):
        for suffix in ("", "?format=api"):
            following: str | None = url + suffix
            while following:
                response = client.get(following)
                assert response.status_code in (200, 403, 404, 409), (url, response.status_code)
                content = content_of(response).decode()
                leaked = sorted(text for text in forbidden if text in content)
                assert not leaked, f"{role} received {leaked} from {following}"
                fetched += 1
                following = None
                if response.status_code == 200 and not suffix and not response.streaming:
                    data = response.json()
                    following = data.get("next") if isinstance(data, dict) else None
    assert fetched >= 2 * len(readable_urls(world))


def test_the_sweep_would_see_the_secrets_if_they_were_there(
    make_world: Callable[[str], World],
) -> None:
    """The leak sweep is only worth something if every secret does reach someone through the API."""
    world = make_world("appeal")
    reached: set[str] = set()
    for role in ("officer", "chair") + PARTIES:
        client = client_for(world.cast[role])
        for url in readable_urls(world):
            _, items = get_all(client, url)
            content = json.dumps(items) + content_of(client.get(url)).decode()
            reached |= {text for text in SECRETS if text in content}
    assert reached == set(SECRETS), f"never returned to anyone: {sorted(set(SECRETS) - reached)}"


# --- Logins: sessions and tokens meet the same gate -----------------------------------------------


def test_session_and_token_logins_meet_the_same_gate(make_world: Callable[[str], World]) -> None:
    world = make_world("appeal")
    notes = reverse("case-note-list", kwargs={"case_number": world.number})
    for role, expected in (
        ("respondent", 200),
        ("outsider", 404),
        ("recused", 404),
        ("officer", 200),
    ):
        user = world.cast[role]
        session = APIClient()
        assert session.login(username=user.username, password=password_for(user.username))
        token = APIClient()
        token.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        for client in (session, token):
            response = client.get(notes)
            assert response.status_code == expected, (role, response.content)
            if expected == 200:  # the internal note goes to the committee only
                assert (INTERNAL_NOTE in response.content.decode()) == (role == "officer")
    for client, code in (
        (APIClient(), "not_authenticated"),
        (APIClient(HTTP_AUTHORIZATION="Token not-a-real-token"), "authentication_failed"),
    ):
        for url in (notes, notes.replace(world.number, GHOST_CASE)):
            response = client.get(url)
            assert response.status_code == 403, response.content
            assert error(response)["code"] == code
            assert world.number not in response.content.decode()


# --- 3. Query counts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Growth:
    route: str
    stage: str
    # Most queries per request, by viewer: session, user, the gate (case, seats, party rows, and the
    # office group for the committee), then the list's own (count, page, one per prefetch).
    queries: Mapping[str, int]
    grow: Callable[[World], None]
    name: str = ""

    @property
    def id(self) -> str:
        return self.name or self.route


def _grow_reports(world: World) -> None:
    for i in range(6):
        services.report_submit(
            reporter=world.cast["complainant"] if i % 2 else None,
            mode="confidential" if i % 2 else "anonymous",
            kind="other",
            title=f"Report {i}",
            narrative="More.",
        )


def _grow_cases(world: World) -> None:
    officer = world.cast["officer"]
    for i in range(6):
        opened = services.case_open(actor=officer, workflow="course", title=f"Case {i}")
        office = gate(officer, opened)
        services.member_add(access=office, user=world.cast["chair"], role="chair")
        services.party_add(
            access=office, name="Remy Respondent", role="respondent", user=world.cast["respondent"]
        )


def _grow_parties(world: World) -> None:
    office = gate(world.cast["officer"], world.case)
    for i in range(6):
        services.party_add(
            access=office,
            name=f"Respondent {i}",
            role="respondent",
            user=UserFactory(username=f"extra-respondent-{i}") if i % 2 else None,
        )


def _grow_allegations(world: World) -> None:
    office = gate(world.cast["officer"], world.case)
    for i in range(6):
        role = ("respondent", "respondent2")[i % 2]
        services.allegation_add(
            access=office, respondent=world.party[role], kind="other", description=f"More {i}."
        )


def _grow_members(world: World) -> None:
    office = gate(world.cast["officer"], world.case)
    for i in range(6):
        user = UserFactory(username=f"extra-member-{i}")
        seat = services.member_add(access=office, user=user, role="committee_member")
        services.conflict_declare(
            access=gate(user, world.case), member=seat, has_conflict=False, statement="None."
        )


def _extend_clocks(world: World) -> None:
    office = gate(world.cast["officer"], world.case)
    for clock in Clock.objects.filter(case=world.case, status=Clock.Status.RUNNING):
        for days in (40, 50, 60):
            services.clock_extend(
                access=office,
                clock=clock,
                new_due_date=(clock.started_at + timedelta(days=clock.days + days)).date(),
                reason=f"+{days}",
            )


def _more_clocks(world: World) -> None:
    office = gate(world.cast["officer"], world.case)
    inquiry = Clock.objects.get(case=world.case, key="inquiry")
    services.clock_extend(
        access=office,
        clock=inquiry,
        new_due_date=(inquiry.due_at + timedelta(days=5)).date(),
        reason="More time.",
    )
    for who, name in (("chair", "recommend_investigation"), ("officer", "begin_investigation")):
        services.case_transition(access=gate(world.cast[who], world.case), name=name)
    _extend_clocks(world)


def _grow_notes(world: World) -> None:
    for i in range(6):
        author = world.cast[("officer", "chair", "member")[i % 3]]
        role = ("respondent", "respondent2")[i % 2]
        services.note_add(
            access=gate(author, world.case),
            body=f"Note {i}",
            visibility="party",
            party=world.party[role],
        )
        services.note_add(
            access=gate(author, world.case), body=f"Internal {i}", visibility="internal"
        )
        services.note_add(
            access=gate(world.cast[role], world.case), body=f"Reply {i}", visibility="party"
        )


def _grow_responses(world: World) -> None:
    for i in range(6):
        role = ("respondent", "respondent2", "witness")[i % 3]
        services.response_submit(
            access=gate(world.cast[role], world.case),
            kind="other",
            body=f"Addendum {i}",
            attachments=[
                SimpleUploadedFile(f"exhibit-{i}-{n}.txt", b"exhibit %d" % n) for n in range(i % 3)
            ],
        )


def _grow_findings(world: World) -> None:
    office = gate(world.cast["officer"], world.case)
    for i in range(4):
        role = ("respondent", "respondent2")[i % 2]
        allegation = services.allegation_add(
            access=office, respondent=world.party[role], kind="other", description=f"More {i}."
        )
        finding = services.finding_record(
            access=office,
            allegation=allegation,
            outcome="no_misconduct",
            standard_of_proof="preponderance",
            intent="",
            rationale="Not shown.",
        )
        for voter in ("chair", "member"):
            services.finding_vote(
                access=gate(world.cast[voter], world.case),
                finding=finding,
                vote="concur",
                comment="Agreed.",
            )


def _grow_sanctions(world: World) -> None:
    office = gate(world.cast["officer"], world.case)
    for i in range(6):
        services.sanction_add(
            access=office,
            respondent=world.party["respondent"],
            kind="other",
            description=f"Task {i}",
        )


def _grow_appeals(world: World) -> None:
    # The workflow lets a case have one appeal (file_appeal leaves "decided"), so the extra rows a
    # long list needs are written directly: this test counts queries, it does not walk the workflow.
    for i in range(5):
        Appeal.objects.create(
            case=world.case,
            appellant_id=world.party[("respondent", "respondent2")[i % 2]],
            grounds=f"Ground {i}",
            filed_by=world.cast["officer"],
        )


def _grow_timeline(world: World) -> None:
    _grow_notes(world)
    services.case_transition(access=gate(world.cast["officer"], world.case), name="start_inquiry")


def _grow_evidence(world: World) -> None:
    office = gate(world.cast["officer"], world.case)
    for i in range(6):
        item = evidence.evidence_upload(
            access=office,
            upload=upload(f"exhibit-{i}.txt", b"exhibit %d\n" % i),
            kind=("document", "statement")[i % 2],
            description=f"Exhibit {i}",
        )
        evidence.evidence_disclose(
            access=office, item=item, to=("respondent", "complainant")[i % 2]
        )
    evidence.snapshot_request(  # pending: no bytes yet
        access=office, kind="web", source="https://example.org/page", description="Page"
    )
    complainant = gate(world.cast["complainant"], world.case)
    evidence.probe_set_commit(access=complainant, description="Probes, sealed", sha256="cd" * 32)
    evidence.probe_set_commit(
        access=complainant, description="Probes, uploaded", upload=upload("p.txt", b"probes\n")
    )


def _grow_legal_holds(world: World) -> None:
    office = gate(world.cast["officer"], world.case)
    for i in range(5):
        hold = evidence.legal_hold_place(access=office, reason=f"Hold {i}")
        if i % 2:
            evidence.legal_hold_release(access=office, hold=hold)


def _grow_analyses(world: World) -> None:
    """More runs, queued (they would run on commit), by each runner, some with a base archive."""
    for i in range(6):
        inputs = dict(analysis_body(world)["inputs"])
        if i % 2:
            inputs["base"] = [world.exhibit["original"]]
        analysis.analysis_start(
            access=gate(world.cast[RUNNERS[i % 3]], world.case),
            kind="codesim",
            inputs=inputs,
            params={} if i % 3 else {"k": 5},
        )


def _record_findings_with_votes(world: World) -> None:
    from tests.conftest import record_findings

    for finding in record_findings(gate(world.cast["chair"], world.case)):
        services.finding_vote(
            access=gate(world.cast["chair"], world.case), finding=finding, vote="concur"
        )


GROWTH: tuple[Growth, ...] = (
    Growth("report-list", "assessment", {"officer": 5, "complainant": 5}, _grow_reports),
    Growth("case-list", "assessment", {"officer": 5, "chair": 5, "respondent": 5}, _grow_cases),
    Growth("case-party-list", "assessment", {"officer": 7, "respondent": 6}, _grow_parties),
    Growth(
        "case-allegation-list", "assessment", {"officer": 8, "respondent": 7}, _grow_allegations
    ),
    Growth("case-member-list", "assessment", {"officer": 9, "respondent": 8}, _grow_members),
    Growth(
        "case-clock-list",
        "inquiry",
        {"officer": 9},
        _more_clocks,
        name="case-clock-list (more clocks)",
    ),
    Growth(
        "case-clock-list",
        "draft_comment",
        {"officer": 9, "respondent": 8},
        _extend_clocks,
        name="case-clock-list (more extensions)",
    ),
    Growth("case-note-list", "assessment", {"officer": 8, "respondent": 7}, _grow_notes),
    Growth("case-response-list", "assessment", {"officer": 9, "respondent": 8}, _grow_responses),
    Growth("case-finding-list", "investigation", {"officer": 9, "chair": 9}, _grow_findings),
    Growth("case-sanction-list", "decided", {"officer": 8, "respondent": 7}, _grow_sanctions),
    Growth("case-appeal-list", "appeal", {"officer": 8, "respondent": 7}, _grow_appeals),
    Growth("case-timeline-list", "assessment", {"officer": 8, "respondent": 7}, _grow_timeline),
    Growth(
        "case-evidence-list",
        "assessment",
        {"officer": 8, "respondent": 7, "complainant": 7},
        _grow_evidence,
    ),
    Growth("case-legal-hold-list", "assessment", {"officer": 8}, _grow_legal_holds),
    # A party's list is always empty (no query past the gate's), so only the committee's is grown.
    Growth("case-analysis-list", "assessment", {"officer": 12, "member": 12}, _grow_analyses),
)


def test_every_list_route_has_a_query_count_test() -> None:
    lists = {route for route, method in api_routes() if method == "GET" and route.endswith("-list")}
    assert lists == {g.route for g in GROWTH}


def count_queries(client: APIClient, url: str) -> tuple[int, int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return (
        len(ctx.captured_queries),
        len(results(response.json())),
        [q["sql"] for q in ctx.captured_queries],
    )


@pytest.mark.parametrize("growth", GROWTH, ids=lambda g: g.id)
def test_list_endpoints_run_a_fixed_number_of_queries(
    growth: Growth, make_world: Callable[[str], World]
) -> None:
    world = make_world(growth.stage)
    if growth.route == "case-finding-list":
        _record_findings_with_votes(world)
    clients = {}
    for role in growth.queries:
        user = world.cast[role]
        clients[role] = APIClient()
        assert clients[role].login(username=user.username, password=password_for(user.username))
    url = reverse(
        growth.route,
        kwargs={"case_number": world.number}
        if growth.route.startswith("case-") and growth.route != "case-list"
        else None,
    )
    before = {role: count_queries(client, url) for role, client in clients.items()}
    growth.grow(world)
    for role, client in clients.items():
        queries, items, sql = count_queries(client, url)
        small, few, small_sql = before[role]
        assert few >= 1, f"{role} sees nothing to start with"
        assert items > few or growth.route == "case-clock-list", f"{role}: the list did not grow"
        assert queries == small, (
            f"{growth.id} as {role}: {small} queries for {few} items, {queries} for {items}:\n"
            + "\n".join(sql)
        )
        assert queries <= growth.queries[role], (
            f"{growth.id} as {role}: {queries} queries, more than {growth.queries[role]}:\n"
            + "\n".join(sql)
        )


# --- 4. Bad input ---------------------------------------------------------------------------------

LONG_TEXT = "x" * 20_001
LONG_TITLE = "x" * 301


@dataclass(frozen=True)
class Bad:
    name: str
    route: str
    role: str
    body: Callable[[World], Any]
    field: str | None
    stage: str = "appeal"
    pk: Callable[[World], Any] | None = None
    raw: str | None = None  # a body sent as is, not as JSON
    form: bool = False  # sent as multipart/form-data (as is any body carrying a file)


def _case_url(world: World, bad: Bad) -> str:
    if bad.route.startswith("report-"):
        args = [world.reports["complainant"]] if bad.route != "report-list" else []
        return reverse(bad.route, args=args)
    if bad.route in ("case-list",):
        return reverse(bad.route)
    if bad.route == "case-transitions":
        return reverse(bad.route, args=[world.number])
    kwargs: dict[str, Any] = {"case_number": world.number}
    if bad.pk is not None:
        kwargs["pk"] = bad.pk(world)
    return reverse(bad.route, kwargs=kwargs)


BAD_INPUT: tuple[Bad, ...] = (
    Bad(
        "note body too long",
        "case-note-list",
        "officer",
        lambda w: {"body": LONG_TEXT, "visibility": "internal"},
        "body",
    ),
    Bad(
        "note body with a NUL",
        "case-note-list",
        "officer",
        lambda w: {"body": "a\x00b", "visibility": "internal"},
        "body",
    ),
    Bad(
        "note body blank",
        "case-note-list",
        "respondent",
        lambda w: {"body": "   ", "visibility": "party"},
        "body",
    ),
    Bad(
        "note visibility unknown",
        "case-note-list",
        "officer",
        lambda w: {"body": "b", "visibility": "public"},
        "visibility",
    ),
    Bad(
        "note party not a number",
        "case-note-list",
        "officer",
        lambda w: {"body": "b", "visibility": "party", "party": "x"},
        "party",
    ),
    Bad("note body not an object", "case-note-list", "officer", lambda w: ["body"], None),
    Bad("note body not JSON", "case-note-list", "officer", lambda w: None, None, raw="{not json"),
    Bad(
        "case title too long",
        "case-list",
        "officer",
        lambda w: {"workflow": "course", "title": LONG_TITLE},
        "title",
    ),
    Bad(
        "case workflow unknown",
        "case-list",
        "officer",
        lambda w: {"workflow": "nope", "title": "t"},
        "workflow",
    ),
    Bad(
        "party name too long",
        "case-party-list",
        "chair",
        lambda w: {"name": "x" * 201, "role": "witness"},
        "name",
    ),
    Bad(
        "party e-mail malformed",
        "case-party-list",
        "officer",
        lambda w: {"name": "n", "role": "witness", "email": "nope"},
        "email",
    ),
    Bad(
        "party account unknown",
        "case-party-list",
        "officer",
        lambda w: {"name": "n", "role": "witness", "username": "ghost"},
        "username",
    ),
    Bad(
        "allegation description too long",
        "case-allegation-list",
        "officer",
        lambda w: {"respondent": w.party["respondent"], "kind": "other", "description": LONG_TEXT},
        "description",
    ),
    Bad(
        "allegation URL not a URL",
        "case-allegation-list",
        "officer",
        lambda w: {
            "respondent": w.party["respondent"],
            "kind": "other",
            "description": "d",
            "original": {"url": "javascript:alert(1)"},
        },
        "original.url",
    ),
    Bad(
        "allegation respondent not a number",
        "case-allegation-list",
        "officer",
        lambda w: {"respondent": "first", "kind": "other", "description": "d"},
        "respondent",
    ),
    Bad(
        "member expertise too long",
        "case-member-list",
        "officer",
        lambda w: {"username": "outsider", "role": "chair", "expertise": "x" * 301},
        "expertise",
    ),
    Bad(
        "member account unknown",
        "case-member-list",
        "officer",
        lambda w: {"username": "ghost", "role": "chair"},
        "username",
    ),
    Bad(
        "member role unknown",
        "case-member-list",
        "officer",
        lambda w: {"username": "outsider", "role": "king"},
        "role",
    ),
    Bad(
        "recusal without a reason",
        "case-member-recuse",
        "member",
        lambda w: {"reason": ""},
        "reason",
        pk=lambda w: w.seat["member"],
    ),
    Bad(
        "declaration too long",
        "case-member-declarations",
        "member",
        lambda w: {"has_conflict": False, "statement": LONG_TEXT},
        "statement",
        pk=lambda w: w.seat["member"],
    ),
    Bad(
        "extension date malformed",
        "case-clock-extend",
        "officer",
        lambda w: {"new_due_date": "next week", "reason": "r"},
        "new_due_date",
        stage="draft_comment",
        pk=lambda w: w.clock("investigation"),
    ),
    Bad(
        "extension date not later",
        "case-clock-extend",
        "officer",
        lambda w: {"new_due_date": "2000-01-01", "reason": "r"},
        "new_due_date",
        stage="draft_comment",
        pk=lambda w: w.clock("investigation"),
    ),
    Bad(
        "response body too long",
        "case-response-list",
        "respondent",
        lambda w: {"kind": "statement", "body": LONG_TEXT},
        "body",
    ),
    Bad(
        "response kind unknown",
        "case-response-list",
        "respondent",
        lambda w: {"kind": "essay", "body": "b"},
        "kind",
    ),
    Bad(
        "finding rationale too long",
        "case-finding-list",
        "chair",
        lambda w: {
            "allegation": w.allegation("respondent"),
            "outcome": "misconduct",
            "standard_of_proof": "preponderance",
            "intent": "knowing",
            "rationale": LONG_TEXT,
        },
        "rationale",
        stage="draft_comment",
    ),
    Bad(
        "finding of misconduct without intent",
        "case-finding-list",
        "chair",
        lambda w: {
            "allegation": w.allegation("respondent"),
            "outcome": "misconduct",
            "standard_of_proof": "preponderance",
            "intent": "not_applicable",
            "rationale": "r",
        },
        "intent",
        stage="draft_comment",
    ),
    Bad(
        "vote comment too long",
        "case-finding-votes",
        "member",
        lambda w: {"vote": "concur", "comment": LONG_TEXT},
        "comment",
        stage="draft_comment",
        pk=lambda w: w.finding("respondent"),
    ),
    Bad(
        "sanction due date malformed",
        "case-sanction-list",
        "officer",
        lambda w: {
            "respondent": w.party["respondent"],
            "kind": "other",
            "description": "d",
            "due_date": "2026-13-45",
        },
        "due_date",
    ),
    Bad(
        "sanction kind unknown",
        "case-sanction-list",
        "officer",
        lambda w: {"respondent": w.party["respondent"], "kind": "fine", "description": "d"},
        "kind",
    ),
    Bad(
        "sanction proof too long",
        "case-sanction-complete",
        "officer",
        lambda w: {"status": "done", "proof": LONG_TEXT},
        "proof",
        pk=lambda w: w.sanction("respondent"),
    ),
    Bad(
        "appeal grounds too long",
        "case-appeal-list",
        "respondent",
        lambda w: {"grounds": LONG_TEXT},
        "grounds",
        stage="decided",
    ),
    Bad(
        "appeal decision too long",
        "case-appeal-decide",
        "appeal_panel",
        lambda w: {"status": "denied", "decision": LONG_TEXT},
        "decision",
        pk=lambda w: w.appeal("respondent"),
    ),
    Bad(
        "transition name too long",
        "case-transitions",
        "officer",
        lambda w: {"name": "x" * 65},
        "name",
        stage="decided",
    ),
    Bad(
        "transition unknown",
        "case-transitions",
        "officer",
        lambda w: {"name": "vanish"},
        "name",
        stage="decided",
    ),
    Bad(
        "report title too long",
        "report-list",
        "anonymous",
        lambda w: {"mode": "anonymous", "kind": "other", "title": LONG_TITLE, "narrative": "n"},
        "title",
    ),
    Bad(
        "report narrative too long",
        "report-list",
        "anonymous",
        lambda w: {"mode": "anonymous", "kind": "other", "title": "t", "narrative": LONG_TEXT},
        "narrative",
    ),
    Bad(
        "report work URL too long",
        "report-list",
        "outsider",
        lambda w: {
            "mode": "named",
            "kind": "other",
            "title": "t",
            "narrative": "n",
            "original_work": {"url": "https://example.org/" + "a" * 2000},
        },
        "original_work.url",
    ),
    Bad(
        "report with too many respondents",
        "report-list",
        "outsider",
        lambda w: {
            "mode": "named",
            "kind": "other",
            "title": "t",
            "narrative": "n",
            "respondents": [{"name": f"R{i}"} for i in range(51)],
        },
        "respondents",
    ),
    Bad(
        "anonymous report carrying a name",
        "report-list",
        "anonymous",
        lambda w: {
            "mode": "anonymous",
            "kind": "other",
            "title": "t",
            "narrative": "n",
            "reporter_name": "Me",
        },
        "mode",
    ),
    Bad(
        "dismissal reason too long",
        "report-dismiss",
        "officer",
        lambda w: {"reason": LONG_TEXT},
        "reason",
    ),
    Bad(
        "open-case workflow unknown",
        "report-open-case",
        "officer",
        lambda w: {"workflow": "nope"},
        "workflow",
    ),
    Bad(
        "exhibit description too long",
        "case-evidence-list",
        "officer",
        lambda w: {"file": upload("a.txt", b"a\n"), "kind": "document", "description": LONG_TEXT},
        "description",
    ),
    Bad(
        "exhibit without a file",
        "case-evidence-list",
        "chair",
        lambda w: {"kind": "document", "description": "d"},
        "file",
        form=True,
    ),
    Bad(
        "exhibit of a kind with its own endpoint",
        "case-evidence-list",
        "officer",
        lambda w: {"file": upload("a.txt", b"a\n"), "kind": "probe_set", "description": "d"},
        "kind",
    ),
    Bad(
        "probe set hash malformed",
        "case-evidence-probe-sets",
        "complainant",
        lambda w: {"description": "Probes.", "sha256": "not-a-sha256"},
        "sha256",
    ),
    Bad(
        "probe set hash too long",
        "case-evidence-probe-sets",
        "complainant",
        lambda w: {"description": "Probes.", "sha256": "a" * 65},
        "sha256",
    ),
    Bad(
        "probe set with neither hash nor file",
        "case-evidence-probe-sets",
        "officer",
        lambda w: {"description": "Probes."},
        "sha256",
    ),
    Bad(
        "reveal without a file",
        "case-evidence-reveal",
        "complainant",
        lambda w: {},
        "file",
        pk=exhibit("probe"),
        form=True,
    ),
    Bad(
        "disclosure to an unknown party",
        "case-evidence-disclose",
        "officer",
        lambda w: {"to": "witness"},
        "to",
        pk=exhibit("internal"),
    ),
    Bad(
        "disclosure purpose too long",
        "case-evidence-disclose",
        "chair",
        lambda w: {"to": "respondent", "purpose": LONG_TEXT},
        "purpose",
        pk=exhibit("internal"),
    ),
    Bad(
        "snapshot kind unknown",
        "case-evidence-snapshot",
        "officer",
        lambda w: {"kind": "ftp", "source": "https://example.org/page"},
        "kind",
    ),
    Bad(
        "web snapshot of a file URL",
        "case-evidence-snapshot",
        "officer",
        lambda w: {"kind": "web", "source": "file:///etc/passwd"},
        "source",
    ),
    Bad(
        "git snapshot source read as an option",
        "case-evidence-snapshot",
        "member",
        lambda w: {"kind": "git", "source": "--upload-pack=touch /tmp/pwned"},
        "source",
    ),
    Bad(
        "git snapshot of a relative path",
        "case-evidence-snapshot",
        "officer",
        lambda w: {"kind": "git", "source": "../../etc"},
        "source",
    ),
    Bad(
        "snapshot source too long",
        "case-evidence-snapshot",
        "officer",
        lambda w: {"kind": "web", "source": "https://example.org/" + "a" * 2000},
        "source",
    ),
    Bad(
        "disposal without a reason",
        "case-evidence-dispose",
        "officer",
        lambda w: {},
        "reason",
        pk=exhibit("disclosed"),
    ),
    Bad(
        "legal hold reason too long",
        "case-legal-hold-list",
        "officer",
        lambda w: {"reason": LONG_TEXT},
        "reason",
    ),
    Bad(
        "legal hold without a reason",
        "case-legal-hold-list",
        "officer",
        lambda w: {"reason": "  "},
        "reason",
    ),
    Bad(
        "analysis kind unknown",
        "case-analysis-list",
        "member",
        lambda w: {**analysis_body(w), "kind": "vibes"},
        "kind",
    ),
    Bad(
        "analysis without a suspect",
        "case-analysis-list",
        "officer",
        lambda w: {"kind": "codesim", "inputs": {"original": [w.exhibit["original"]]}},
        "inputs",
    ),
    Bad(
        "analysis input role unknown",
        "case-analysis-list",
        "chair",
        lambda w: {
            **analysis_body(w),
            "inputs": {**analysis_body(w)["inputs"], "oracle": [w.exhibit["original"]]},
        },
        "inputs",
    ),
    Bad(
        "analysis input not in the case",
        "case-analysis-list",
        "member",
        lambda w: {"kind": "codesim", "inputs": {"original": [10**20], "suspect": [1]}},
        "inputs",
    ),
    Bad(
        "analysis input not a number",
        "case-analysis-list",
        "member",
        lambda w: {"kind": "codesim", "inputs": {"original": ["E-1"], "suspect": [1]}},
        "inputs.original.0",
    ),
    Bad(
        "analysis with too many inputs",
        "case-analysis-list",
        "officer",
        lambda w: {"kind": "codesim", "inputs": {"original": list(range(1, 52)), "suspect": [1]}},
        "inputs.original",
    ),
    Bad(
        "analysis parameter unknown",
        "case-analysis-list",
        "officer",
        lambda w: {**analysis_body(w), "params": {"temperature": 2}},
        "params",
    ),
)


@pytest.mark.parametrize("bad", BAD_INPUT, ids=lambda b: b.name)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    bad: Bad, make_world: Callable[[str], World]
) -> None:
    world = make_world(bad.stage)
    client = client_for(world.cast[bad.role])
    url = _case_url(world, bad)
    before = snapshot()
    if bad.raw is not None:
        response = client.post(url, bad.raw, content_type="application/json")
    else:
        body = bad.body(world)
        response = client.post(
            url, body, format="multipart" if bad.form or is_form(body) else "json"
        )
    assert response.status_code == 400, response.content[:500]
    err = error(response)
    assert err["message"]
    assert err.get("field") == bad.field, err
    assert snapshot() == before


def test_huge_ids_are_not_found_not_a_server_error(make_world: Callable[[str], World]) -> None:
    world = make_world("appeal")
    client = client_for(world.cast["officer"])
    huge = 10**20
    for route, body in (
        ("case-member-recuse", {"reason": "r"}),
        ("case-sanction-complete", {"status": "done", "proof": "p"}),
        ("case-appeal-decide", {"status": "denied", "decision": "d"}),
    ):
        url = reverse(route, kwargs={"case_number": world.number, "pk": huge})
        response = client.post(url, body, format="json")
        assert response.status_code == 404, (route, response.content)
    before = snapshot()
    payloads: tuple[tuple[str, dict[str, Any]], ...] = (
        ("case-allegation-list", {"respondent": huge, "kind": "other", "description": "d"}),
        ("case-sanction-list", {"respondent": huge, "kind": "other", "description": "d"}),
        ("case-response-list", {"kind": "statement", "body": "b", "party": huge}),
        ("case-note-list", {"body": "b", "visibility": "party", "party": huge}),
        ("case-appeal-list", {"grounds": "g", "appellant": huge}),
    )
    for route, payload in payloads:
        response = client.post(
            reverse(route, kwargs={"case_number": world.number}), payload, format="json"
        )
        assert response.status_code == 404, (route, response.content)
    assert snapshot() == before


def test_exhibits_and_holds_that_do_not_exist_are_not_found(
    make_world: Callable[[str], World],
) -> None:
    """Ids past any integer column, digits that are not ASCII, words: 404, never a server error."""
    world = make_world("assessment")
    client = client_for(world.cast["officer"])
    before = snapshot()
    for pk in (10**20, "\u00b2", "0", "E-1"):
        for route in ("case-evidence-detail", "case-evidence-download", "case-evidence-custody"):
            response = client.get(reverse(route, kwargs={"case_number": world.number, "pk": pk}))
            assert response.status_code == 404, (route, pk, response.content)
        for route, body in (
            ("case-evidence-disclose", {"to": "respondent"}),
            ("case-evidence-reveal", {"file": upload("p.txt", PROBE_BYTES)}),
            ("case-evidence-dispose", {"reason": "r"}),
            ("case-legal-hold-release", {}),
        ):
            url = reverse(route, kwargs={"case_number": world.number, "pk": pk})
            response = call(client, "POST", url, body)
            assert response.status_code == 404, (route, pk, response.content)
    assert snapshot() == before


def test_runs_that_do_not_exist_are_not_found(make_world: Callable[[str], World]) -> None:
    world = make_world("assessment")
    client = client_for(world.cast["officer"])
    for pk in (10**20, "\u00b2", "0", "E-1", world.exhibit["original"] + 1000):
        for route in ("case-analysis-detail", "case-analysis-report"):
            response = client.get(reverse(route, kwargs={"case_number": world.number, "pk": pk}))
            assert response.status_code == 404, (route, pk, response.content)
            assert error(response)["code"] == "not_found"


# --- The evidence vault: what the matrix does not show -------------------------------------------


def test_a_snapshot_request_is_accepted_pending_and_acquired_only_after_commit(
    make_world: Callable[[str], World], django_capture_on_commit_callbacks: Any
) -> None:
    world = make_world("assessment")
    client = client_for(world.cast["member"])
    files = stored_files()
    url = reverse("case-evidence-snapshot", kwargs={"case_number": world.number})
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(
            url, {"kind": "web", "source": "https://example.org/page"}, format="json"
        )
    assert response.status_code == 202, response.content
    data = response.json()
    assert (data["kind"], data["status"], data["progress"]) == ("web_capture", "pending", 0)
    assert data["source"]["url"] == "https://example.org/page" and not data["sha256"]
    assert len(queued) == 1  # the acquisition waits for a commit, which never comes here
    item = EvidenceItem.objects.get(pk=data["id"])
    assert item.status == EvidenceItem.Status.PENDING and item.blob is None
    assert stored_files() == files


def test_reading_an_exhibit_is_on_its_chain_of_custody(
    make_world: Callable[[str], World],
) -> None:
    world = make_world("assessment")
    client = client_for(world.cast["respondent"])
    kwargs = {"case_number": world.number, "pk": world.exhibit["disclosed"]}
    assert client.get(reverse("case-evidence-detail", kwargs=kwargs)).status_code == 200
    response = client.get(reverse("case-evidence-download", kwargs=kwargs))
    assert response.status_code == 200
    assert content_of(response) == DISCLOSED_BYTES
    assert response["X-Content-SHA256"] == DISCLOSED_SHA
    events = client_for(world.cast["officer"]).get(reverse("case-evidence-custody", kwargs=kwargs))
    chain = [(e["action"], e["actor"], e["hash_ok"]) for e in events.json()]
    assert chain == [
        ("acquired", "officer", True),
        ("disclosed", "officer", None),
        ("viewed", "respondent", None),
        ("downloaded", "respondent", True),
    ]
    # A hold the office released is still listed, with when; none is shown to a party.
    office = client_for(world.cast["officer"])
    release = reverse(
        "case-legal-hold-release", kwargs={"case_number": world.number, "pk": world.hold}
    )
    assert office.post(release).status_code == 200
    assert office.post(release).status_code == 409
    holds = office.get(reverse("case-legal-hold-list", kwargs={"case_number": world.number}))
    assert [h["released_at"] is not None for h in results(holds.json())] == [True]
    assert LegalHold.objects.get(pk=world.hold).released_by == world.cast["officer"]
