"""The audit log with the database: appending, wiring, verification, tampering and proofs."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.test import Client

from cases import services
from cases.audit import merkle
from cases.audit.models import AuditEntry, TreeHead, format_at
from cases.audit.services import (
    AuditIntegrityError,
    audit_append,
    audit_verify,
    consistency_proof_between,
    inclusion_proof_for,
    public_key_pem,
    signing_key,
    tree_head_sign,
)
from cases.errors import Conflict, NotFound
from cases.models import Case, TimelineEvent
from tests.cases.audit.conftest import write_key
from tests.factories import UserFactory, password_for

if TYPE_CHECKING:
    from tests.conftest import AccessFor

pytestmark = pytest.mark.usefixtures("audit_settings")

ROOT = Path(__file__).resolve().parents[3]
VERIFIER = ROOT / "scripts" / "verify_audit_proof.py"
T0 = datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def verify_command() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def verify_fails() -> tuple[str, str]:
    """Run audit_verify expecting failure: (the CommandError message, what it printed)."""
    out = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("audit_verify", stdout=out)
    assert failure.value.returncode == 1
    return str(failure.value), out.getvalue()


def fill(count: int, *, actor: User | None = None, case: Case | None = None) -> None:
    for i in range(count):
        audit_append(kind="export", actor=actor, case=case, payload={"n": i, "note": "Résumé ✓"})


@pytest.fixture
def log(db: None, officer: User) -> list[TreeHead]:
    """25 entries and two signed heads: after 10 entries (head at seq 10) and after 24."""
    AuditEntry.objects.all().delete()  # start from an empty log (the cast's set-up is audited)
    fill(10, actor=officer)
    first = tree_head_sign(now=T0)
    fill(13, actor=officer)
    second = tree_head_sign(now=T0 + timedelta(hours=1))
    assert (first.tree_size, second.tree_size, AuditEntry.objects.count()) == (10, 24, 25)
    return [first, second]


# --- Appending ---------------------------------------------------------------------------------


def test_entries_are_numbered_from_zero_without_gaps(db: None, officer: User) -> None:
    before = AuditEntry.objects.count()  # the officer joining the office group is audited too
    fill(5, actor=officer)
    seqs = list(AuditEntry.objects.values_list("seq", flat=True))
    assert seqs == list(range(before + 5))


def test_the_leaf_is_the_canonical_json_of_the_entry(case: Case, officer: User) -> None:
    entry = audit_append(
        kind="export", actor=officer, case=case, payload={"b": [1, 2.5], "a": "Zoë"}, at=T0
    )
    expected = (
        f'{{"actor":{{"id":{officer.pk},"username":"officer"}},'
        f'"at":"2025-03-04T05:06:07.891011Z","case":"{case.number}","kind":"export",'
        f'"payload":{{"a":"Zoë","b":[1,2.5]}},"seq":{entry.seq}}}'
    )
    entry.refresh_from_db()
    assert entry.leaf_data() == expected.encode("utf-8")
    assert entry.leaf_hash == hashlib.sha256(b"\x00" + expected.encode("utf-8")).hexdigest()
    assert entry.actor_label == "officer"


def test_an_entry_without_actor_or_case_has_nulls(db: None) -> None:
    entry = audit_append(kind="analysis.run", payload={"run": 3})
    fields = json.loads(entry.leaf_data())
    assert (fields["actor"], fields["case"], entry.actor_label) == (None, None, "")


def test_payloads_read_back_exactly_as_hashed(db: None) -> None:
    payload = {
        "big_float": 1e20,
        "small": 1.5e-7,
        "one": 1.0,
        "int": 2**62,
        "text": '日本語 \u2028 "quoted" \\',
        "nested": [{"x": None, "y": True}, []],
        "tuple": (1, 2),
    }
    audit_append(kind="export", payload=payload)
    assert audit_verify().ok


def test_payloads_that_are_not_json_are_refused(db: None) -> None:
    with pytest.raises(TypeError, match="payload.when"):
        audit_append(kind="export", payload={"when": datetime.now(tz=UTC)})
    with pytest.raises(ValueError, match="NaN"):
        audit_append(kind="export", payload={"x": float("nan")})
    with pytest.raises(ValueError, match="kind"):
        audit_append(kind="")
    assert not AuditEntry.objects.exists()


def test_a_rolled_back_transaction_leaves_no_entry(db: None) -> None:
    fill(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_append(kind="export", payload={"n": "lost"})
        raise RuntimeError("the change failed")
    fill(1)
    assert list(AuditEntry.objects.values_list("seq", flat=True)) == [0, 1, 2]


@pytest.mark.django_db(transaction=True)
def test_concurrent_appenders_get_distinct_contiguous_numbers() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite in memory has one connection; PostgreSQL shows the lock at work")
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(15):
                with transaction.atomic():
                    audit_append(kind="export", payload={"worker": worker, "i": i})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert list(AuditEntry.objects.values_list("seq", flat=True)) == list(range(90))
    assert audit_verify().ok


# --- Wiring ------------------------------------------------------------------------------------


def test_every_timeline_event_of_the_case_is_in_the_audit_log(case: Case, officer: User) -> None:
    events = list(TimelineEvent.objects.filter(case=case).order_by("id"))
    entries = list(AuditEntry.objects.filter(case=case, kind__startswith="case.").order_by("seq"))
    assert [e.payload["timeline_event"] for e in entries] == [e.pk for e in events]
    opened = entries[0]
    assert opened.kind == f"case.{events[0].kind}"
    assert opened.actor == officer
    assert opened.payload["summary"] == events[0].summary
    assert opened.payload["data"] == events[0].data


def test_a_transition_writes_its_audit_entry_in_the_same_transaction(
    case: Case, access_for: AccessFor, officer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A transition that fails after writing its timeline event keeps neither.
    count, events = AuditEntry.objects.count(), TimelineEvent.objects.count()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("clock service down")

    monkeypatch.setattr(services, "_start_clocks", broken)
    with pytest.raises(RuntimeError):
        services.case_transition(access=access_for(officer, case), name="start_inquiry")
    assert (AuditEntry.objects.count(), TimelineEvent.objects.count()) == (count, events)

    monkeypatch.undo()
    case.refresh_from_db()
    services.case_transition(access=access_for(officer, case), name="start_inquiry")
    latest = AuditEntry.objects.filter(kind="case.transition").latest("seq")
    assert latest.payload["data"]["to"] == "inquiry"
    assert latest.payload["timeline_event"] == (
        TimelineEvent.objects.filter(case=case, kind="transition").latest("id").pk
    )
    assert AuditEntry.objects.count() > count
    assert audit_verify().ok


def test_logins_and_failed_logins_are_audited_without_the_password(db: None) -> None:
    user = UserFactory.create(username="auditee")
    client = Client()
    assert not client.login(username="auditee", password="wrong-secret")
    assert client.login(username="auditee", password=password_for("auditee"))
    client.logout()
    kinds = list(AuditEntry.objects.values_list("kind", flat=True))
    assert kinds == ["auth.login_failed", "auth.login", "auth.logout"]
    failed = AuditEntry.objects.get(kind="auth.login_failed")
    assert failed.payload["username"] == "auditee"
    assert failed.actor is None
    assert AuditEntry.objects.get(kind="auth.login").actor == user
    for entry in AuditEntry.objects.all():
        assert "wrong-secret" not in entry.leaf_data().decode()
        assert password_for("auditee") not in entry.leaf_data().decode()


# --- Signing -----------------------------------------------------------------------------------


def test_a_signed_head_is_recorded_in_the_log(db: None) -> None:
    fill(3)
    head = tree_head_sign(now=T0)
    assert head.tree_size == 3
    leaves = [bytes.fromhex(h) for h in AuditEntry.objects.values_list("leaf_hash", flat=True)]
    assert head.root_hash == merkle.root(leaves[:3]).hex()
    record = AuditEntry.objects.get(seq=3)
    assert record.kind == "audit.tree_head"
    assert record.payload["root_hash"] == head.root_hash
    assert record.payload["signature"] == head.signature
    signing_key().public_key().verify(bytes.fromhex(head.signature), head.signed_bytes())
    assert head.signed_bytes() == (
        f"slipcase-audit-tree-head-v1|3|{head.root_hash}|2025-03-04T05:06:07.891011Z".encode()
    )


def test_signing_again_without_news_returns_the_same_head(db: None) -> None:
    fill(2)
    head = tree_head_sign(now=T0)
    assert tree_head_sign(now=T0 + timedelta(minutes=5)) == head
    fill(1)
    assert tree_head_sign(now=T0 + timedelta(minutes=10)).tree_size == 4
    assert TreeHead.objects.count() == 2


def test_the_empty_log_can_be_signed(db: None) -> None:
    head = tree_head_sign(now=T0)
    assert (head.tree_size, head.root_hash) == (0, hashlib.sha256(b"").hexdigest())
    assert audit_verify().ok


def test_a_changed_log_is_not_signed(log: list[TreeHead]) -> None:
    """Signing reads the stored leaf hashes of what was signed before, and recomputes the rest.

    (A changed row whose stored hash was left alone is not laundered by a new head: the new root
    still commits to the old hash, and audit_verify names the row.)
    """
    entry = AuditEntry.objects.get(seq=3)
    original = entry.leaf_hash
    entry.payload = {"n": 999}
    entry.leaf_hash = merkle.leaf_hash(entry.leaf_data()).hex()
    entry.save(update_fields=["payload", "leaf_hash"])
    fill(1)
    with pytest.raises(AuditIntegrityError, match="no longer give the root"):
        tree_head_sign()
    AuditEntry.objects.filter(seq=3).update(
        payload={"n": 3, "note": "Résumé ✓"}, leaf_hash=original
    )
    AuditEntry.objects.filter(seq=25).update(kind="forged")
    with pytest.raises(AuditIntegrityError, match="entry 25: leaf hash mismatch"):
        tree_head_sign()


def test_the_default_key_is_generated_once_with_mode_0600(
    db: None, settings: Any, tmp_path: Path
) -> None:
    settings.SLIPCASE_AUDIT_SIGNING_KEY = ""
    settings.VAR_DIR = tmp_path
    fill(1)
    head = tree_head_sign()
    path = tmp_path / "keys" / "audit-ed25519.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    first = path.read_bytes()
    fill(1)
    tree_head_sign()
    assert path.read_bytes() == first
    assert head.key_id == hashlib.sha256(signing_key().public_key().public_bytes_raw()).hexdigest()
    assert audit_verify().ok


def test_a_configured_key_that_is_missing_is_an_error(db: None, settings: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    settings.SLIPCASE_AUDIT_SIGNING_KEY = "/nonexistent/audit.pem"
    with pytest.raises(ImproperlyConfigured, match="does not exist"):
        tree_head_sign()


def test_heads_signed_by_a_retired_key_verify_when_its_public_key_is_listed(
    log: list[TreeHead], settings: Any, tmp_path: Path
) -> None:
    old_public = tmp_path / "retired.pub.pem"
    old_public.write_text(public_key_pem(signing_key().public_key()))
    settings.SLIPCASE_AUDIT_SIGNING_KEY = str(write_key(tmp_path / "new-key.pem"))
    fill(1)
    tree_head_sign()
    message, _ = verify_fails()
    assert "signed by unknown key" in message
    settings.SLIPCASE_AUDIT_PUBLIC_KEYS = [str(old_public)]
    assert "OK: 27 entries, 3 tree heads" in verify_command()


# --- audit_verify: an intact log, then each kind of tampering -----------------------------------


def test_an_intact_log_verifies(log: list[TreeHead]) -> None:
    out = verify_command()
    assert out.startswith("OK: 25 entries, 2 tree heads (0 time-stamped)")
    assert f"latest tree head #{log[1].pk}: size 24" in out
    assert "1 entries not yet signed" in out


def test_a_changed_row_is_named(log: list[TreeHead]) -> None:
    AuditEntry.objects.filter(seq=17).update(payload={"n": 17, "note": "edited"})
    message, printed = verify_fails()
    assert message == "audit log verification failed: entry 17: leaf hash mismatch"
    assert printed.splitlines()[0] == "FAIL: entry 17: leaf hash mismatch"
    assert (
        "root hash does not match entries 0..23 (entries 10..23 or the head were changed)"
        in printed
    )


def test_a_changed_actor_is_detected(log: list[TreeHead], member: User) -> None:
    AuditEntry.objects.filter(seq=4).update(actor=member, actor_label="member")
    assert verify_fails()[0].endswith("entry 4: leaf hash mismatch")


def test_a_changed_time_is_detected(log: list[TreeHead]) -> None:
    AuditEntry.objects.filter(seq=2).update(at=T0 + timedelta(microseconds=1))
    assert verify_fails()[0].endswith("entry 2: leaf hash mismatch")


def test_a_deleted_row_is_a_sequence_gap(log: list[TreeHead]) -> None:
    AuditEntry.objects.filter(seq=17).delete()
    message, printed = verify_fails()
    assert message.endswith("sequence gap: 16 then 18")
    assert printed.splitlines()[0] == "FAIL: sequence gap: 16 then 18"


def test_a_deleted_first_row_is_a_gap_at_the_start(log: list[TreeHead]) -> None:
    AuditEntry.objects.filter(seq=0).delete()
    assert verify_fails()[0].endswith("sequence gap: log starts at 1")


def test_deleted_trailing_rows_that_a_head_covers_are_detected(log: list[TreeHead]) -> None:
    AuditEntry.objects.filter(seq__gte=20).delete()
    message, _ = verify_fails()
    assert "covers 24 entries but the log has 20" in message


def test_swapped_rows_are_named(log: list[TreeHead]) -> None:
    """Two rows exchange everything but their seq (and id): the log was reordered."""
    fields = ["at", "actor", "actor_label", "kind", "case", "payload", "leaf_hash"]
    five, six = AuditEntry.objects.get(seq=5), AuditEntry.objects.get(seq=6)
    for name in fields:
        a, b = getattr(five, name), getattr(six, name)
        setattr(five, name, b)
        setattr(six, name, a)
    five.save(update_fields=fields)
    six.save(update_fields=fields)
    message, printed = verify_fails()
    assert message.endswith("entry 5: leaf hash mismatch")
    assert printed.splitlines()[1] == "FAIL: entry 6: leaf hash mismatch"


def test_reordered_rows_with_recomputed_hashes_break_the_signed_root(log: list[TreeHead]) -> None:
    """A forger who renumbers two entries and recomputes their leaf hashes still fails."""
    with transaction.atomic():
        AuditEntry.objects.filter(seq=5).update(seq=1000)
        AuditEntry.objects.filter(seq=6).update(seq=5)
        AuditEntry.objects.filter(seq=1000).update(seq=6)
    for seq in (5, 6):
        entry = AuditEntry.objects.get(seq=seq)
        entry.leaf_hash = merkle.leaf_hash(entry.leaf_data()).hex()
        entry.save(update_fields=["leaf_hash"])
    message, _ = verify_fails()
    assert f"tree head #{log[0].pk} (size 10, signed {format_at(T0)})" in message
    assert "root hash does not match entries 0..9 (entries 0..9 or the head" in message


def test_an_altered_tree_head_root_is_detected(log: list[TreeHead]) -> None:
    TreeHead.objects.filter(pk=log[0].pk).update(root_hash="ab" * 32)
    message, printed = verify_fails()
    assert "root hash does not match entries 0..9" in message
    assert f"tree head #{log[0].pk}" in message
    assert "signature does not verify" in printed


def test_a_removed_tree_head_is_detected(log: list[TreeHead]) -> None:
    TreeHead.objects.filter(pk=log[0].pk).delete()
    message, _ = verify_fails()
    assert message.endswith(
        f"entry 10 records tree head of size 10 signed {format_at(T0)}, which is missing"
    )


def test_a_removed_last_tree_head_is_detected(log: list[TreeHead]) -> None:
    TreeHead.objects.filter(pk=log[1].pk).delete()
    assert verify_fails()[0].endswith(
        "entry 24 records tree head of size 24 signed "
        f"{format_at(T0 + timedelta(hours=1))}, which is missing"
    )


def test_a_forged_signature_is_detected(log: list[TreeHead]) -> None:
    forged = bytes.fromhex(log[1].signature)
    forged = bytes([forged[0] ^ 1]) + forged[1:]
    TreeHead.objects.filter(pk=log[1].pk).update(signature=forged.hex())
    message, _ = verify_fails()
    assert message.endswith(
        f"tree head #{log[1].pk} (size 24, signed {format_at(log[1].at)}): "
        "signature does not verify"
    )


def test_a_head_signed_by_another_key_is_detected(log: list[TreeHead], tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    head = log[1]
    intruder = Ed25519PrivateKey.generate()
    head.signature = intruder.sign(head.signed_bytes()).hex()
    head.key_id = hashlib.sha256(intruder.public_key().public_bytes_raw()).hexdigest()
    head.save(update_fields=["signature", "key_id"])
    assert "signed by unknown key" in verify_fails()[0]


def test_an_inserted_head_without_its_log_record_is_detected(log: list[TreeHead]) -> None:
    key = signing_key()
    head = TreeHead(tree_size=10, root_hash=log[0].root_hash, at=T0 + timedelta(minutes=1))
    head.signature = key.sign(head.signed_bytes()).hex()
    head.key_id = log[0].key_id
    head.save()
    assert verify_fails()[0].endswith("has no audit.tree_head entry in the log")


def test_verify_reports_in_json(log: list[TreeHead]) -> None:
    out = io.StringIO()
    call_command("audit_verify", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert (report["ok"], report["entries"], report["heads"]) == (True, 25, 2)


def test_verify_runs_as_a_command_with_exit_code_1(log: list[TreeHead]) -> None:
    AuditEntry.objects.filter(seq=17).update(kind="edited")
    out = io.StringIO()
    err = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("audit_verify", stdout=out, stderr=err)
    assert failure.value.returncode == 1


# --- Proofs --------------------------------------------------------------------------------------


def run_verifier(document: dict[str, Any], tmp_path: Path, *args: str) -> tuple[int, str]:
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")}
    result = subprocess.run(
        [sys.executable, str(VERIFIER), str(path), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the project: the verifier must stand alone
        env=env,
        timeout=60,
    )
    return result.returncode, result.stdout + result.stderr


def proof_json(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("audit_proof", *args, stdout=out)
    document: dict[str, Any] = json.loads(out.getvalue())
    return document


def test_an_inclusion_proof_verifies_with_the_standalone_verifier(
    log: list[TreeHead], tmp_path: Path
) -> None:
    document = proof_json("17")
    assert (document["leaf_index"], document["tree_size"]) == (17, 24)
    assert document["tree_head"]["id"] == log[1].pk
    code, out = run_verifier(document, tmp_path, "--key-id", log[1].key_id)
    assert code == 0, out
    assert "entry 17 is included in the tree of size 24" in out
    assert out.rstrip().endswith("VERIFIED")


@pytest.mark.parametrize("seq", [0, 9, 10, 23])
def test_inclusion_proofs_of_every_kind_of_position_verify(
    log: list[TreeHead], tmp_path: Path, seq: int
) -> None:
    document = inclusion_proof_for(seq=seq)
    assert run_verifier(document, tmp_path)[0] == 0


def test_proof_by_primary_key(log: list[TreeHead]) -> None:
    entry = AuditEntry.objects.get(seq=3)
    assert proof_json("--id", str(entry.pk))["entry"]["seq"] == 3


def tampered(document: dict[str, Any], change: str) -> dict[str, Any]:
    doc = copy.deepcopy(document)
    if change == "leaf data":
        doc["entry"]["leaf_data"] = doc["entry"]["leaf_data"].replace('"n":', '"n":1')
        doc["entry"]["leaf_hash"] = merkle.leaf_hash(doc["entry"]["leaf_data"].encode()).hex()
    elif change == "path":
        node = doc["audit_path"][1]
        doc["audit_path"][1] = ("0" if node[0] != "0" else "1") + node[1:]
    elif change == "index":
        doc["leaf_index"] = 16
    elif change == "root":
        doc["tree_head"]["root_hash"] = "00" * 32
    elif change == "signature":
        sig = doc["tree_head"]["signature"]
        doc["tree_head"]["signature"] = sig[:-2] + ("00" if sig[-2:] != "00" else "01")
    elif change == "time":
        doc["tree_head"]["at"] = "2025-03-04T06:06:07.891012Z"
    return doc


@pytest.mark.parametrize("change", ["leaf data", "path", "index", "root", "signature", "time"])
def test_a_tampered_inclusion_proof_fails(log: list[TreeHead], tmp_path: Path, change: str) -> None:
    code, out = run_verifier(tampered(proof_json("17"), change), tmp_path)
    assert code == 1, out
    assert "FAIL" in out
    assert out.rstrip().endswith("NOT VERIFIED")


def test_the_verifier_rejects_a_key_other_than_the_pinned_one(
    log: list[TreeHead], tmp_path: Path
) -> None:
    code, out = run_verifier(proof_json("3"), tmp_path, "--key-id", "00" * 32)
    assert code == 1
    assert "is the trusted one" in out


def test_a_consistency_proof_verifies_and_fails_when_tampered(
    log: list[TreeHead], tmp_path: Path
) -> None:
    document = proof_json("--consistency", "10", "24")
    assert (document["first"]["tree_size"], document["second"]["tree_size"]) == (10, 24)
    code, out = run_verifier(document, tmp_path)
    assert code == 0, out
    assert "the tree of size 10 is a prefix of the tree of size 24" in out

    bad = copy.deepcopy(document)
    bad["proof"][0] = "ff" * 32
    assert run_verifier(bad, tmp_path)[0] == 1
    bad = copy.deepcopy(document)
    bad["first"]["root_hash"] = "ff" * 32
    assert run_verifier(bad, tmp_path)[0] == 1


def test_consistency_proofs_come_from_the_services(log: list[TreeHead]) -> None:
    document = consistency_proof_between(10, 24)
    proof = [bytes.fromhex(p) for p in document["proof"]]
    assert merkle.verify_consistency(
        10, 24, bytes.fromhex(log[0].root_hash), bytes.fromhex(log[1].root_hash), proof
    )
    with pytest.raises(NotFound):
        consistency_proof_between(11, 24)


def test_an_entry_not_yet_signed_has_no_proof(log: list[TreeHead]) -> None:
    with pytest.raises(Conflict, match="not yet covered"):
        inclusion_proof_for(seq=24)
    with pytest.raises(CommandError, match="not yet covered"):
        call_command("audit_proof", "24", stdout=io.StringIO())
    with pytest.raises(CommandError, match="no audit entry"):
        call_command("audit_proof", "999", stdout=io.StringIO())


def test_no_proof_is_given_from_a_changed_log(log: list[TreeHead]) -> None:
    entry = AuditEntry.objects.get(seq=12)
    entry.payload = {"n": "forged"}
    entry.leaf_hash = merkle.leaf_hash(entry.leaf_data()).hex()
    entry.save(update_fields=["payload", "leaf_hash"])
    with pytest.raises(AuditIntegrityError, match="no longer gives the root"):
        inclusion_proof_for(seq=3)


def test_the_audit_sign_command_prints_the_head(db: None) -> None:
    fill(2)
    out = io.StringIO()
    call_command("audit_sign", stdout=out)
    head = TreeHead.objects.get()
    assert out.getvalue().startswith(f"tree head #{head.pk}: size 2, root {head.root_hash}")


@pytest.mark.django_db
def test_joining_the_office_group_and_flag_changes_are_audited() -> None:
    from django.contrib.auth.models import Group

    from cases.audit.models import AuditEntry
    from cases.selectors import OFFICE_GROUP
    from tests.factories import UserFactory

    user = UserFactory.create(username="newofficer")
    office, _ = Group.objects.get_or_create(name=OFFICE_GROUP)
    user.groups.add(office)
    office.user_set.remove(user)
    user.is_staff = True
    user.save()
    changes = [e.payload for e in AuditEntry.objects.filter(kind="permission.changed")]
    assert {
        "user": "newofficer",
        "change": "groups",
        "action": "add",
        "names": [OFFICE_GROUP],
    } in changes
    assert {
        "user": "newofficer",
        "change": "groups",
        "action": "remove",
        "names": [OFFICE_GROUP],
    } in changes
    assert {"user": "newofficer", "change": "flags", "flags": {"is_staff": True}} in changes
