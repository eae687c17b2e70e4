"""Audit tests that touch Django sign with a throwaway Ed25519 key and use no time-stamp server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def write_key(path: Path) -> Path:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    return path


@pytest.fixture
def audit_settings(settings: Any, tmp_path: Path) -> Any:
    settings.SLIPCASE_AUDIT_SIGNING_KEY = str(write_key(tmp_path / "audit-key.pem"))
    settings.SLIPCASE_AUDIT_PUBLIC_KEYS = []
    settings.SLIPCASE_TSA_URL = ""
    settings.SLIPCASE_TSA_CERT = ""
    settings.SLIPCASE_TSA_REQUIRED = False
    return settings
