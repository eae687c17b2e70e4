"""RFC 3161 time stamps against a real time-stamping authority built here, on 127.0.0.1.

The local TSA answers real ``TimeStampReq`` messages over HTTP with real ``TimeStampResp``
messages (asn1crypto for the structures, ``cryptography`` for keys, certificates and signatures).
Its ``mode`` makes it misbehave in the ways a client must notice.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, core, tsp  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.management import call_command
from django.core.management.base import CommandError

from cases.audit import tsa
from cases.audit.models import AuditEntry, TreeHead
from cases.audit.services import audit_append, audit_verify, tree_head_sign

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


# --- A certificate authority and a TSA ------------------------------------------------------------


def new_key(kind: str) -> SigningKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def certificate(
    subject: str,
    key: SigningKey,
    *,
    issuer: tuple[x509.Certificate, SigningKey] | None = None,
    ca: bool = False,
    time_stamping: bool = True,
) -> x509.Certificate:
    now = datetime.now(tz=UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = (issuer[0].subject, issuer[1]) if issuer else (name, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if time_stamping:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return builder.sign(issuer_key, hashes.SHA256())


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@dataclass
class LocalTSA:
    key: SigningKey
    cert: x509.Certificate
    chain: list[x509.Certificate] = field(default_factory=list)
    mode: str = "ok"
    url: str = ""
    requests: int = 0

    def respond(self, body: bytes) -> bytes:
        self.requests += 1
        request = tsp.TimeStampReq.load(body)
        if self.mode == "reject":
            status = tsp.PKIStatusInfo(
                {
                    "status": "rejection",
                    "status_string": ["policy says no"],
                    "fail_info": tsp.PKIFailureInfo({"unaccepted_policy"}),
                }
            )
            # A refusal carries no token (asn1crypto's TimeStampResp insists on one).
            return bytes(core.Sequence(contents=status.dump()).dump())
        imprint = request["message_imprint"]
        hashed = imprint["hashed_message"].native
        if self.mode == "wrong_imprint":
            hashed = hashlib.sha256(b"some other tree head").digest()
        nonce = request["nonce"].native
        if self.mode == "wrong_nonce":
            nonce += 1
        tst_info = tsp.TSTInfo(
            {
                "version": "v1",
                "policy": "1.3.6.1.4.1.99999.1",
                "message_imprint": {
                    "hash_algorithm": {"algorithm": imprint["hash_algorithm"]["algorithm"].native},
                    "hashed_message": hashed,
                },
                "serial_number": self.requests,
                "gen_time": datetime.now(tz=UTC).replace(microsecond=0),
                "nonce": nonce,
            }
        )
        cert_asn1 = asn1_x509.Certificate.load(der(self.cert))
        ess_hash = hashlib.sha256(der(self.cert)).digest()
        if self.mode == "wrong_ess":
            ess_hash = hashlib.sha256(b"another certificate").digest()
        attrs = cms.CMSAttributes(
            [
                {"type": "content_type", "values": ["tst_info"]},
                {"type": "message_digest", "values": [hashlib.sha256(tst_info.dump()).digest()]},
                {
                    "type": "signing_certificate_v2",
                    "values": [
                        {
                            "certs": [
                                {"hash_algorithm": {"algorithm": "sha256"}, "cert_hash": ess_hash}
                            ]
                        }
                    ],
                },
            ]
        )
        to_sign = attrs.dump()
        if isinstance(self.key, rsa.RSAPrivateKey):
            signature = self.key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
            algorithm = "sha256_rsa"
        else:
            signature = self.key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
            algorithm = "sha256_ecdsa"
        if self.mode == "bad_signature":
            signature = signature[:-8] + bytes(b ^ 0x5A for b in signature[-8:])
        signer_info = {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": cert_asn1.issuer,
                        "serial_number": cert_asn1.serial_number,
                    }
                }
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": attrs,
            "signature_algorithm": {"algorithm": algorithm},
            "signature": signature,
        }
        certs = [cert_asn1, *(asn1_x509.Certificate.load(der(c)) for c in self.chain)]
        signed_data = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [{"algorithm": "sha256"}],
                "encap_content_info": {"content_type": "tst_info", "content": tst_info},
                "certificates": certs if request["cert_req"].native else [],
                "signer_infos": [signer_info],
            }
        )
        token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
        response = tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token})
        return bytes(response.dump())


def serve(authority: LocalTSA) -> Iterator[LocalTSA]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server interface
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if authority.mode == "http_error":
                self.send_error(503, "TSA overloaded")
                return
            if self.headers["Content-Type"] != "application/timestamp-query":
                self.send_error(415)
                return
            reply = authority.respond(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    authority.url = f"http://127.0.0.1:{server.server_address[1]}/tsa"
    try:
        yield authority
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(params=["ec", "rsa"])
def local_tsa(request: pytest.FixtureRequest) -> Iterator[LocalTSA]:
    key = new_key(request.param)
    yield from serve(LocalTSA(key=key, cert=certificate("Local TSA", key)))


@pytest.fixture
def chained_tsa() -> Iterator[tuple[LocalTSA, x509.Certificate]]:
    """A TSA whose certificate an intermediate issued, under a root the test trusts."""
    root_key, mid_key, tsa_key = new_key("ec"), new_key("ec"), new_key("ec")
    root = certificate("Root CA", root_key, ca=True, time_stamping=False)
    mid = certificate(
        "Intermediate", mid_key, issuer=(root, root_key), ca=True, time_stamping=False
    )
    leaf = certificate("Chained TSA", tsa_key, issuer=(mid, mid_key))
    for authority in serve(LocalTSA(key=tsa_key, cert=leaf, chain=[mid])):
        yield authority, root


def pem_file(tmp_path: Path, cert: x509.Certificate, name: str = "tsa.pem") -> str:
    path = tmp_path / name
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


DATA = b"slipcase-audit-tree-head-v1|3|" + b"ab" * 32 + b"|2026-01-01T00:00:00.000000Z"


# --- The client ---------------------------------------------------------------------------------


def test_a_granted_time_stamp_verifies(local_tsa: LocalTSA) -> None:
    before = datetime.now(tz=UTC).replace(microsecond=0)
    stamp = tsa.request_timestamp(local_tsa.url, DATA, trusted_cert=local_tsa.cert)
    assert before <= stamp.gen_time <= datetime.now(tz=UTC)
    assert tsa.verify_token(stamp.token, DATA, local_tsa.cert) == stamp.gen_time
    assert tsa.verify_token(stamp.token, DATA) == stamp.gen_time


def test_the_request_is_a_real_timestamp_query(local_tsa: LocalTSA) -> None:
    query = tsp.TimeStampReq.load(tsa.build_request(DATA, nonce=12345))
    assert query["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert query["message_imprint"]["hashed_message"].native == hashlib.sha256(DATA).digest()
    assert (query["nonce"].native, query["cert_req"].native) == (12345, True)


def test_a_token_for_other_data_is_rejected(local_tsa: LocalTSA) -> None:
    stamp = tsa.request_timestamp(local_tsa.url, DATA)
    with pytest.raises(tsa.TSAError, match="message imprint mismatch"):
        tsa.verify_token(stamp.token, DATA + b"!")


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("wrong_imprint", "message imprint mismatch"),
        ("bad_signature", "signature does not verify"),
        ("wrong_nonce", "nonce mismatch"),
        ("wrong_ess", "names another certificate"),
        ("reject", r"refused the time stamp \(rejection\): policy says no; unaccepted_policy"),
        ("http_error", "answered HTTP 503"),
    ],
)
def test_a_misbehaving_tsa_is_refused(local_tsa: LocalTSA, mode: str, message: str) -> None:
    local_tsa.mode = mode
    with pytest.raises(tsa.TSAError, match=message):
        tsa.request_timestamp(local_tsa.url, DATA)


def test_a_token_from_an_untrusted_tsa_is_refused(local_tsa: LocalTSA) -> None:
    stranger_key = new_key("ec")
    stranger = certificate("Someone else", stranger_key)
    with pytest.raises(tsa.TSAError, match="does not chain to the trusted"):
        tsa.request_timestamp(local_tsa.url, DATA, trusted_cert=stranger)


def test_a_certificate_without_the_time_stamping_usage_is_refused() -> None:
    key = new_key("ec")
    for authority in serve(LocalTSA(key=key, cert=certificate("No EKU", key, time_stamping=False))):
        with pytest.raises(tsa.TSAError, match="timeStamping"):
            tsa.request_timestamp(authority.url, DATA)


def test_a_tsa_chained_to_the_trusted_root_is_accepted(
    chained_tsa: tuple[LocalTSA, x509.Certificate],
) -> None:
    authority, root = chained_tsa
    stamp = tsa.request_timestamp(authority.url, DATA, trusted_cert=root)
    assert tsa.verify_token(stamp.token, DATA, root) == stamp.gen_time


def test_an_unreachable_tsa_is_a_clear_error() -> None:
    with pytest.raises(tsa.TSAError, match="unreachable"):
        tsa.request_timestamp("http://127.0.0.1:9/tsa", DATA, timeout=2)
    with pytest.raises(tsa.TSAError, match="http or https"):
        tsa.request_timestamp("file:///etc/passwd", DATA)


def test_garbage_is_not_a_token() -> None:
    with pytest.raises(tsa.TSAError, match="malformed"):
        tsa.verify_token(b"\x30\x03\x02\x01\x01", DATA)
    with pytest.raises(tsa.TSAError, match="malformed"):
        tsa.parse_response(b"not DER at all")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_openssl_accepts_the_tokens(local_tsa: LocalTSA, tmp_path: Path) -> None:
    """The tokens are real RFC 3161: OpenSSL's own verifier agrees (docs/audit.md shows how)."""
    stamp = tsa.request_timestamp(local_tsa.url, DATA)
    (tmp_path / "data.bin").write_bytes(DATA)
    (tmp_path / "token.der").write_bytes(stamp.token)
    result = subprocess.run(
        [
            "openssl", "ts", "-verify", "-token_in", "-in", str(tmp_path / "token.der"),
            "-data", str(tmp_path / "data.bin"), "-CAfile", pem_file(tmp_path, local_tsa.cert),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert "Verification: OK" in result.stdout, result.stdout + result.stderr


# --- Signed tree heads with time stamps -----------------------------------------------------------


@pytest.fixture
def tsa_settings(audit_settings: Any, local_tsa: LocalTSA, tmp_path: Path) -> LocalTSA:
    audit_settings.SLIPCASE_TSA_URL = local_tsa.url
    audit_settings.SLIPCASE_TSA_CERT = pem_file(tmp_path, local_tsa.cert)
    return local_tsa


def test_a_signed_head_carries_a_token_that_audit_verify_checks(
    db: None, tsa_settings: LocalTSA
) -> None:
    audit_append(kind="export", payload={"n": 1})
    head = tree_head_sign()
    assert head.tsa_token is not None and head.tsa_time is not None
    assert head.tsa_url == tsa_settings.url
    head.refresh_from_db()
    assert tsa.verify_token(bytes(head.tsa_token), head.signed_bytes()) == head.tsa_time
    record = AuditEntry.objects.get(kind="audit.tree_head")
    assert record.payload["tsa_token_sha256"] == hashlib.sha256(bytes(head.tsa_token)).hexdigest()
    report = audit_verify()
    assert report.ok, report.problems
    assert report.timestamped_heads == 1
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "(1 time-stamped)" in out.getvalue()
    assert ", time-stamped;" in out.getvalue()


def test_a_token_for_another_head_is_rejected_by_audit_verify(
    db: None, tsa_settings: LocalTSA
) -> None:
    audit_append(kind="export", payload={"n": 1})
    first = tree_head_sign()
    audit_append(kind="export", payload={"n": 2})
    second = tree_head_sign()
    TreeHead.objects.filter(pk=second.pk).update(tsa_token=first.tsa_token)
    report = audit_verify()
    assert report.first_problem == (
        f"tree head #{second.pk} (size {second.tree_size}, signed "
        f"{second.signed_bytes().decode().rsplit('|', 1)[1]}): time stamp does not verify: "
        "time-stamp token is for other data (message imprint mismatch)"
    )
    assert any("differs from its record" in p for p in report.problems)


def test_a_token_with_a_bad_signature_is_rejected_by_audit_verify(
    db: None, tsa_settings: LocalTSA
) -> None:
    audit_append(kind="export", payload={"n": 1})
    head = tree_head_sign()
    token = bytearray(bytes(head.tsa_token or b""))
    token[-3] ^= 0x01  # inside the signature, the last field of the token
    TreeHead.objects.filter(pk=head.pk).update(tsa_token=bytes(token))
    problem = audit_verify().first_problem or ""
    assert "time stamp does not verify" in problem
    with pytest.raises(CommandError):
        call_command("audit_verify", stdout=io.StringIO())


def test_a_removed_token_is_detected(db: None, tsa_settings: LocalTSA) -> None:
    audit_append(kind="export", payload={"n": 1})
    head = tree_head_sign()
    TreeHead.objects.filter(pk=head.pk).update(tsa_token=None, tsa_time=None)
    assert "differs from its record in entry 1: tsa_token_sha256" in (
        audit_verify().first_problem or ""
    )


def test_a_tsa_failure_keeps_the_head_without_a_token(db: None, tsa_settings: LocalTSA) -> None:
    tsa_settings.mode = "http_error"
    audit_append(kind="export", payload={"n": 1})
    out = io.StringIO()
    with pytest.raises(CommandError, match="did not time-stamp"):
        call_command("audit_sign", stdout=out)
    head = TreeHead.objects.get()
    assert head.tsa_token is None
    assert audit_verify().ok


def test_a_required_tsa_that_fails_leaves_no_head(
    db: None, tsa_settings: LocalTSA, settings: Any
) -> None:
    settings.SLIPCASE_TSA_REQUIRED = True
    tsa_settings.mode = "bad_signature"
    audit_append(kind="export", payload={"n": 1})
    with pytest.raises(CommandError, match="signature does not verify"):
        call_command("audit_sign", stdout=io.StringIO())
    assert not TreeHead.objects.exists()
    assert AuditEntry.objects.count() == 1
