"""Load the demo: the motivating case (a renamed copy of another lab's vision-language model),
a report waiting for triage, and one account per role. Idempotent: a second run changes nothing.

Everything is written through the services, as a user would, so the timeline is real.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from cases import selectors, services
from cases.models import Report

DEMO_PASSWORD = "slipcase-demo"  # noqa: S105 - printed on purpose: demo accounts only
DEMO_TOKEN = "demo-vlm-copy-report"  # noqa: S105 - an idempotency key, not a secret

DEMO_MODEL_CODE = """import math


class MiniVConfig:
    def __init__(self, hidden_size=4096, layers=32, heads=32, vision_tower="siglip"):
        self.hidden_size = hidden_size
        self.layers = layers
        self.heads = heads
        self.vision_tower = vision_tower


class MiniVModel:
    def __init__(self, config):
        self.config = config
        self.scale = 1.0 / math.sqrt(config.hidden_size // config.heads)
        self.blocks = [self.block(i) for i in range(config.layers)]

    def block(self, index):
        return {"index": index, "width": self.config.hidden_size * 4, "norm": 1e-6}

    def project_image(self, patches):
        # map vision-tower patches into the language model's hidden size
        return [[p * self.scale for p in patch] for patch in patches]

    def attention(self, query, keys):
        weights = [sum(q * k for q, k in zip(query, key)) * self.scale for key in keys]
        top = max(weights)
        exp = [math.exp(w - top) for w in weights]
        total = sum(exp)
        return [e / total for e in exp]
"""

ACCOUNTS = [
    # username, full name, what they are in the demo
    ("officer", "Li Wei 李伟", "integrity officer (office group: sees every case)"),
    ("chair", "Prof. Ada Okafor", "committee chair"),
    ("member", "Dr. Zhang Min 张敏", "committee member (ML expert)"),
    ("recused", "Dr. Tom Becker", "committee member who declared a conflict (sees nothing)"),
    ("dean", "Dean Maria Rossi", "deciding official"),
    ("appeals", "Prof. Kenji Sato", "appeal panel"),
    ("complainant", "Prof. Chen Jing 陈静", "complainant (lab whose model was copied)"),
    ("respondent1", "Alex Kim", "respondent (student team lead)"),
    ("respondent2", "Sam Patel", "respondent (student team member)"),
    ("outsider", "Olivia Outsider", "no role in any case (sees nothing)"),
]


class Command(BaseCommand):
    help = "Create the demo accounts and the motivating case (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        users = self._accounts()
        if Report.objects.filter(client_token=DEMO_TOKEN).exists():
            self.stdout.write("Demo data already present; nothing changed.")
        else:
            with transaction.atomic():
                number = self._case(users)
            self.stdout.write(self.style.SUCCESS(f"Demo case {number} created."))
        self.stdout.write("")
        self.stdout.write(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
        for username, name, role in ACCOUNTS:
            self.stdout.write(f"  {username:<12} {name:<24} {role}")
        self.stdout.write("")
        self.stdout.write(
            "API: http://127.0.0.1:8000/api/v1/  docs: http://127.0.0.1:8000/api/docs/"
        )

    def _accounts(self) -> dict[str, Any]:
        user_model = get_user_model()
        office, _ = Group.objects.get_or_create(name=selectors.OFFICE_GROUP)
        users = {}
        for username, name, _role in ACCOUNTS:
            first, _, last = name.partition(" ")
            user, created = user_model.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.edu",
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            users[username] = user
        officer = users["officer"]
        officer.groups.add(office)
        if not officer.is_staff:
            officer.is_staff = True
            officer.save(update_fields=["is_staff"])
        return users

    def _evidence(self, office: Any, complainant: Any) -> None:
        """Exhibits of the demo case, stored through the vault like any upload."""
        from django.core.files.uploadedfile import SimpleUploadedFile

        from cases.evidence import services as evidence

        comparison = evidence.evidence_upload(
            access=office,
            upload=SimpleUploadedFile(
                "comparison.txt",
                b"Side-by-side comparison of MiniV-7B and VisionLlama-7B (complainant's summary).\n"
                b"Class MiniVModel appears as VisionLlama; 41 identifiers renamed consistently.\n"
                b"Weights differ from MiniV's by i.i.d. Gaussian noise, sigma about 1/708.\n",
            ),
            kind="document",
            description="Complainant's comparison of the two releases",
        )
        evidence.evidence_disclose(
            access=office, item=comparison, to="respondent", purpose="notice of allegations"
        )
        evidence.evidence_upload(
            access=office,
            upload=SimpleUploadedFile(
                "takedown-request.txt",
                b"Model page and repositories of VisionLlama-7B deleted on 2026-05-23.\n",
            ),
            kind="statement",
            description="Note on the deleted repositories (internal)",
        )
        self._code_analysis(office)
        probes = "\n".join(f"slip-{i:04d}.png\t{c}" for i, c in enumerate("禾黍稷麦菽", 1))
        evidence.probe_set_commit(
            access=complainant,
            description="Unreleased bamboo-slip character probe set (竹简), sealed by its hash",
            sha256=hashlib.sha256(probes.encode()).hexdigest(),
        )

    def _code_analysis(self, office: Any) -> None:
        """The two teams' code as uploaded archives, and a code-similarity run on them that the
        Celery worker carries out (queued on commit)."""
        import io
        import zipfile

        from django.core.files.uploadedfile import SimpleUploadedFile

        from analysis.services import analysis_start
        from cases.evidence import services as evidence

        def archive(files: dict[str, str]) -> bytes:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as zf:
                for name, text in files.items():
                    zf.writestr(name, text)
            return buffer.getvalue()

        original = DEMO_MODEL_CODE
        suspect = (
            original.replace("MiniVModel", "VisionLlama")
            .replace("MiniVConfig", "VLConfig")
            .replace("hidden_size", "dim")
            .replace("vision_tower", "image_encoder")
            .replace("    ", "  ")
        )
        items = []
        for name, files, what in (
            ("miniv-src.zip", {"miniv/modeling_miniv.py": original}, "MiniV-7B source (Chen lab)"),
            ("visionllama-src.zip", {"vl/model.py": suspect}, "VisionLlama-7B source (suspect)"),
        ):
            items.append(
                evidence.evidence_upload(
                    access=office,
                    upload=SimpleUploadedFile(name, archive(files)),
                    kind="source_archive",
                    description=what,
                )
            )
        analysis_start(
            access=office,
            kind="codesim",
            inputs={"original": [items[0].pk], "suspect": [items[1].pk]},
        )

    def _case(self, u: dict[str, Any]) -> str:
        work_original = {
            "title": "MiniV-7B vision-language model (Chen lab)",
            "url": "https://models.example.org/chenlab/MiniV-7B",
            "identifier": "revision 3f9c2e1",
            "date": "2026-03-02",
        }
        work_suspect = {
            "title": "VisionLlama-7B (student team release)",
            "url": "https://models.example.org/vl-team/VisionLlama-7B",
            "identifier": "revision a17d004",
            "date": "2026-05-19",
        }
        report = services.report_submit(
            reporter=u["complainant"],
            mode=Report.Mode.NAMED,
            kind="model_plagiarism",
            title="VisionLlama-7B is a renamed copy of our MiniV-7B model",
            narrative=(
                "The VisionLlama-7B release reproduces our MiniV-7B code with identifiers "
                "renamed and its weights with small added noise. On our unreleased bamboo-slip "
                "character probe set (竹简文字) it gives the same answers, including the same "
                "wrong answers, as MiniV-7B."
            ),
            respondents=[
                {
                    "name": "Alex Kim",
                    "affiliation": "School of Computing",
                    "email": "respondent1@example.edu",
                },
                {
                    "name": "Sam Patel",
                    "affiliation": "School of Computing",
                    "email": "respondent2@example.edu",
                },
            ],
            original_work=work_original,
            suspect_work=work_suspect,
            client_token=DEMO_TOKEN,
        )
        case = services.report_open_case(
            report=report,
            actor=u["officer"],
            workflow="research_misconduct",
            title="Alleged copying of the MiniV-7B vision-language model",
        )
        office = selectors.case_get_for_user(user=u["officer"], number=case.number)
        # Link the respondents' accounts to the parties triage created from the report.
        for row in case.case_parties.filter(role="respondent").select_related("party"):
            username = "respondent1" if row.party.name == "Alex Kim" else "respondent2"
            services.party_link_account(access=office, party=row, user=u[username])
        members = {
            "chair": services.member_add(
                access=office, user=u["chair"], role="chair", expertise="Research ethics"
            ),
            "member": services.member_add(
                access=office,
                user=u["member"],
                role="committee_member",
                expertise="Machine learning",
            ),
            "recused": services.member_add(
                access=office,
                user=u["recused"],
                role="committee_member",
                expertise="Computer vision",
            ),
        }
        services.member_add(access=office, user=u["dean"], role="deciding_official")
        services.member_add(access=office, user=u["appeals"], role="appeal_panel")
        chair = selectors.case_get_for_user(user=u["chair"], number=case.number)
        services.conflict_declare(
            access=chair,
            member=members["chair"],
            has_conflict=False,
            statement="No relationship with either lab.",
        )
        recused = selectors.case_get_for_user(user=u["recused"], number=case.number)
        services.conflict_declare(
            access=recused,
            member=members["recused"],
            has_conflict=True,
            statement="I co-supervise one of the respondents.",
        )
        respondent_rows = list(case.case_parties.filter(role="respondent").order_by("id"))
        services.allegation_add(
            access=office,
            respondent=respondent_rows[0],
            kind="code_plagiarism",
            description=(
                "The training and inference code is MiniV's, reformatted with identifiers renamed."
            ),
            original={
                "title": "MiniV code repository",
                "url": "https://git.example.org/chenlab/miniv",
            },
            suspect={
                "title": "VisionLlama code repository",
                "url": "https://git.example.org/vl-team/visionllama",
            },
        )
        services.case_transition(access=office, name="start_inquiry")
        services.note_add(
            access=office,
            body=(
                "Respondents' repositories deleted two days after the report; snapshots requested."
            ),
            visibility="internal",
        )
        services.case_transition(access=office, name="recommend_investigation")
        services.case_transition(access=office, name="begin_investigation")
        first = selectors.case_get_for_user(user=u["respondent1"], number=case.number)
        services.response_submit(
            access=first,
            kind="apology",
            body="I apologise. We started from the MiniV release and should have said so.",
        )
        second = selectors.case_get_for_user(user=u["respondent2"], number=case.number)
        services.response_submit(
            access=second,
            kind="statement",
            body="Another team member wrote the code; I prepared the data.",
        )
        services.note_add(
            access=office,
            body="Please send the commit history of your local copy by the end of next week.",
            visibility="party",
            party=respondent_rows[1],
        )
        self._evidence(
            office, selectors.case_get_for_user(user=u["complainant"], number=case.number)
        )
        # One clock close to due, to show warnings on the dashboard.
        investigation = case.clocks.get(key="investigation")
        services.clock_extend(
            access=office,
            clock=investigation,
            new_due_date=(investigation.due_at + timedelta(days=30)).date(),
            reason="Forensic analysis of the model weights needs a GPU slot next month.",
        )
        services.report_submit(
            reporter=None,
            mode=Report.Mode.ANONYMOUS,
            kind="data_plagiarism",
            title="Table 3 of a thesis reuses another group's benchmark numbers",
            narrative="The numbers in Table 3 match a 2024 paper to the last digit.",
        )
        services.clocks_sweep(now=timezone.now())
        return case.number
