"""RFC 3161 time stamps: ask a time-stamping authority (TSA) and verify what it answers.

No Django: ``cases.audit.services`` passes the URL, the trusted certificate and the timeout in.

``request_timestamp`` builds a ``TimeStampReq`` (SHA-256 imprint of the data, a random nonce,
``certReq`` true), POSTs it as ``application/timestamp-query``, checks that the ``TimeStampResp``
was granted and verifies the token with ``verify_token``, which checks:

* the token is CMS ``SignedData`` over a ``TSTInfo`` whose message imprint is the hash of the data
  (and whose nonce is ours, when one is given);
* the signed attributes: content type ``id-ct-TSTInfo``, message digest of the ``TSTInfo``, and an
  ESS signing-certificate attribute (v2 or v1) naming the signer's certificate;
* the signature over the DER of the signed attributes, with the public key of the signer's
  certificate from the token (RSA PKCS#1 v1.5, RSA-PSS, ECDSA or Ed25519);
* the certificate has the critical-in-spirit ``id-kp-timeStamping`` extended key usage and was
  valid at ``genTime``;
* with ``trusted_cert``: the signer's certificate is that certificate, or is issued by it directly
  or through certificates carried in the token (signatures and validity checked at each step;
  revocation and name constraints are not checked).

Without ``trusted_cert`` a valid token proves that *its own* certificate's key signed it at
``genTime``, not who holds that key: configure the TSA's certificate to pin it.
"""

from __future__ import annotations

import hashlib
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from asn1crypto import cms, core, tsp  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

MAX_RESPONSE_BYTES = 1 << 20
MAX_CHAIN = 8

_HASHLIB: dict[str, Callable[[bytes], Any]] = {
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
_CRYPTO_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class _TimeStampResp(core.Sequence):
    """RFC 3161 ``TimeStampResp``; asn1crypto's lacks OPTIONAL on the token (absent on refusal)."""

    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


class TSAError(Exception):
    """The TSA could not be reached, refused, or its token does not verify."""


@dataclass(frozen=True)
class Timestamp:
    token: bytes  # DER TimeStampToken (a CMS ContentInfo)
    gen_time: datetime  # aware, UTC
    url: str


def _digest(name: str, data: bytes) -> bytes:
    try:
        return bytes(_HASHLIB[name](data).digest())
    except KeyError:
        raise TSAError(f"unsupported hash algorithm {name!r}") from None


def load_certificate(path: str | Path) -> x509.Certificate:
    """A certificate from a PEM or DER file."""
    data = Path(path).read_bytes()
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise TSAError(f"{path}: not a certificate ({exc})") from exc


def build_request(data: bytes, *, nonce: int) -> bytes:
    """DER ``TimeStampReq`` for ``data``: SHA-256 imprint, ``nonce``, ``certReq`` true."""
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(data).digest(),
            },
            "nonce": nonce,
            "cert_req": True,
        }
    )
    return bytes(request.dump())


def request_timestamp(
    url: str,
    data: bytes,
    *,
    trusted_cert: x509.Certificate | None = None,
    timeout: float = 10.0,
) -> Timestamp:
    """Ask the TSA at ``url`` to time-stamp ``data``; the token is verified before it returns."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise TSAError(f"TSA URL must be http or https, got {url!r}")
    nonce = secrets.randbits(63) | 1
    http_request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=build_request(data, nonce=nonce),
        method="POST",
        headers={
            "Content-Type": "application/timestamp-query",
            "Accept": "application/timestamp-reply",
            "User-Agent": "slipcase-audit",
        },
    )
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as response:  # noqa: S310
            body = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise TSAError(f"TSA {url} answered HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise TSAError(f"TSA {url} unreachable: {exc.reason}") from exc
    except (TimeoutError, OSError) as exc:
        raise TSAError(f"TSA {url} unreachable: {exc}") from exc
    if len(body) > MAX_RESPONSE_BYTES:
        raise TSAError(f"TSA {url} answered more than {MAX_RESPONSE_BYTES} bytes")
    token = parse_response(body, url=url)
    gen_time = verify_token(token, data, trusted_cert, nonce=nonce)
    return Timestamp(token=token, gen_time=gen_time, url=url)


def parse_response(body: bytes, *, url: str = "the TSA") -> bytes:
    """The DER token of a granted ``TimeStampResp``; ``TSAError`` when refused or malformed."""
    try:
        response = _TimeStampResp.load(body)
        status_info = response["status"]
        status = status_info["status"].native
        if status not in ("granted", "granted_with_mods"):
            text = status_info["status_string"].native or []
            fail = status_info["fail_info"].native or set()
            detail = "; ".join([*text, *sorted(fail)]) or "no reason given"
            raise TSAError(f"{url} refused the time stamp ({status}): {detail}")
        token = response["time_stamp_token"]
        if token.native is None:
            raise TSAError(f"{url} granted the request but sent no token")
        return bytes(token.dump())
    except (ValueError, TypeError, KeyError) as exc:
        raise TSAError(f"{url} sent a malformed TimeStampResp: {exc}") from exc


def verify_token(
    token_der: bytes,
    data: bytes,
    trusted_cert: x509.Certificate | None = None,
    *,
    nonce: int | None = None,
) -> datetime:
    """Verify an RFC 3161 ``TimeStampToken`` over ``data``; return its ``genTime`` (aware UTC)."""
    try:
        return _verify_token(token_der, data, trusted_cert, nonce)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise TSAError(f"malformed time-stamp token: {exc}") from exc


def _verify_token(
    token_der: bytes, data: bytes, trusted_cert: x509.Certificate | None, nonce: int | None
) -> datetime:
    info = cms.ContentInfo.load(token_der)
    if info["content_type"].native != "signed_data":
        raise TSAError("time-stamp token is not CMS SignedData")
    signed_data = info["content"]
    encap = signed_data["encap_content_info"]
    if encap["content_type"].native != "tst_info":
        raise TSAError("time-stamp token does not carry a TSTInfo")
    tst_der = encap["content"].__bytes__()
    tst = tsp.TSTInfo.load(tst_der)

    imprint = tst["message_imprint"]
    imprint_alg = imprint["hash_algorithm"]["algorithm"].native
    if imprint["hashed_message"].native != _digest(imprint_alg, data):
        raise TSAError("time-stamp token is for other data (message imprint mismatch)")
    if nonce is not None and tst["nonce"].native != nonce:
        raise TSAError("time-stamp token answers another request (nonce mismatch)")
    gen_time: datetime = tst["gen_time"].native

    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise TSAError(f"time-stamp token has {len(signer_infos)} signers, expected 1")
    signer_info = signer_infos[0]
    carried = [
        choice.chosen
        for choice in signed_data["certificates"] or []
        if choice.name == "certificate"
    ]
    signer_asn1 = _find_signer(signer_info["sid"], carried)
    if signer_asn1 is None and trusted_cert is not None:
        trusted_asn1 = _asn1_cert(trusted_cert)
        signer_asn1 = _find_signer(signer_info["sid"], [trusted_asn1])
    if signer_asn1 is None:
        raise TSAError("the signer's certificate is not in the time-stamp token")
    signer_der = bytes(signer_asn1.dump())
    signer = x509.load_der_x509_certificate(signer_der)

    digest_alg = signer_info["digest_algorithm"]["algorithm"].native
    signed_attrs = signer_info["signed_attrs"]
    if not len(signed_attrs):
        raise TSAError("time-stamp token has no signed attributes")
    attrs = {attr["type"].native: attr["values"] for attr in signed_attrs}
    if attrs.get("content_type") is None or attrs["content_type"][0].native != "tst_info":
        raise TSAError("signed content-type attribute is not id-ct-TSTInfo")
    if attrs.get("message_digest") is None or attrs["message_digest"][0].native != _digest(
        digest_alg, tst_der
    ):
        raise TSAError("signed message digest does not match the TSTInfo")
    _check_signing_certificate(attrs, signer_der)

    # The signature covers the DER of the attributes as a SET OF (tag 0x31), not as [0] IMPLICIT.
    to_verify = b"\x31" + bytes(signed_attrs.dump())[1:]
    _verify_signature(
        signer.public_key(),
        signer_info["signature"].native,
        to_verify,
        signer_info["signature_algorithm"],
        digest_alg,
    )

    _check_tsa_certificate(signer, gen_time)
    if trusted_cert is not None:
        others = [x509.load_der_x509_certificate(bytes(c.dump())) for c in carried]
        _check_chain(signer, trusted_cert, others, gen_time)
    return gen_time


def _asn1_cert(cert: x509.Certificate) -> Any:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def _find_signer(sid: Any, certs: list[Any]) -> Any:
    for cert in certs:
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            if cert.issuer == ias["issuer"] and cert.serial_number == ias["serial_number"].native:
                return cert
        elif sid.name == "subject_key_identifier":
            if cert.key_identifier == sid.chosen.native:
                return cert
    return None


def _check_signing_certificate(attrs: dict[str, Any], signer_der: bytes) -> None:
    """RFC 3161 / RFC 5816: an ESS signing-certificate attribute binds the signer's certificate."""
    if attrs.get("signing_certificate_v2") is not None:
        ess_id = attrs["signing_certificate_v2"][0]["certs"][0]
        alg = ess_id["hash_algorithm"]["algorithm"].native
        expected = ess_id["cert_hash"].native
        actual = _digest(alg, signer_der)
    elif attrs.get("signing_certificate") is not None:
        expected = attrs["signing_certificate"][0]["certs"][0]["cert_hash"].native
        actual = hashlib.sha1(signer_der, usedforsecurity=False).digest()
    else:
        raise TSAError("time-stamp token lacks the ESS signing-certificate attribute")
    if expected != actual:
        raise TSAError("ESS signing-certificate attribute names another certificate")


def _verify_signature(
    public_key: Any, signature: bytes, message: bytes, algorithm: Any, digest_alg: str
) -> None:
    try:
        hash_factory = _CRYPTO_HASHES[digest_alg]
    except KeyError:
        raise TSAError(f"unsupported digest algorithm {digest_alg!r}") from None
    scheme = algorithm.signature_algo
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and scheme == "rsassa_pkcs1v15":
            public_key.verify(signature, message, padding.PKCS1v15(), hash_factory())
        elif isinstance(public_key, rsa.RSAPublicKey) and scheme == "rsassa_pss":
            params = algorithm["parameters"]
            pss_hash = _CRYPTO_HASHES[params["hash_algorithm"]["algorithm"].native]
            mgf_hash = _CRYPTO_HASHES[
                params["mask_gen_algorithm"]["parameters"]["algorithm"].native
            ]
            public_key.verify(
                signature,
                message,
                padding.PSS(padding.MGF1(mgf_hash()), params["salt_length"].native),
                pss_hash(),
            )
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and scheme == "ecdsa":
            public_key.verify(signature, message, ec.ECDSA(hash_factory()))
        elif isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            public_key.verify(signature, message)
        else:
            raise TSAError(f"unsupported signature algorithm {scheme!r} for this key")
    except InvalidSignature:
        raise TSAError("time-stamp token signature does not verify") from None


def _check_tsa_certificate(cert: x509.Certificate, at: datetime) -> None:
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise TSAError("TSA certificate has no extended key usage (timeStamping)") from None
    if ExtendedKeyUsageOID.TIME_STAMPING not in usage:
        raise TSAError("TSA certificate is not for time stamping (no id-kp-timeStamping)")
    _check_valid_at(cert, at)


def _check_valid_at(cert: x509.Certificate, at: datetime) -> None:
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise TSAError(f"certificate {cert.subject.rfc4514_string()} was not valid at {at}")


def _check_chain(
    signer: x509.Certificate,
    trusted: x509.Certificate,
    others: list[x509.Certificate],
    at: datetime,
) -> None:
    """``signer`` is ``trusted`` or chains up to it through ``others``, each link verified."""
    current = signer
    for _ in range(MAX_CHAIN):
        if current == trusted:
            return
        if _issued_by(current, trusted):
            return
        parents = [c for c in others if c != current and _issued_by(current, c)]
        if not parents:
            break
        current = parents[0]
        _check_valid_at(current, at)
    raise TSAError("TSA certificate does not chain to the trusted TSA certificate")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
