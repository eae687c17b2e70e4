from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings


@pytest.fixture(autouse=True)
def empty_evidence_store() -> Iterator[None]:
    """Each test starts with an empty evidence folder (database rows roll back; files do not)."""
    yield
    root = Path(settings.EVIDENCE_ROOT)
    if root.exists():
        for path in root.rglob("*"):
            if path.is_file():
                os.chmod(path, 0o640)
        shutil.rmtree(root, ignore_errors=True)
