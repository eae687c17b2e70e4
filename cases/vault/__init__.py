"""Evidence vault: acquisition and upload safety, as a pure package.

Contract: pure; no Django, no Celery, no project imports. Plain data in (paths, URLs, limits),
frozen dataclasses out (each with ``to_dict()`` for JSON), and errors from ``cases.vault.errors``.
Evidence is hostile input: archives are inspected without being trusted or extracted outside a
temporary directory, pickles are never unpickled, file types are sniffed from content, and a
refused upload leaves nothing half-stored.

* ``cases.vault.safety``: size limits, streaming writes with hashing, archive inspection (zip, tar,
  tar.gz/bz2/xz, single gzip/bzip2/xz streams), content sniffing, text decoding, pickle detection.
* ``cases.vault.snapshots.git``: a git repository (URL or local path) as a bundle of all refs, the
  refs and the commit history as structured data.
* ``cases.vault.snapshots.model_repo``: a model repository folder as a manifest (size, SHA-256,
  role) with pickle refusal and shard checks; ``fetch_hf_repo`` resolves a Hugging Face hub id.
* ``cases.vault.snapshots.web``: a web page as served (bytes, headers, status) and a full-page
  screenshot taken with headless Chromium.

The Django side (models, content-addressed storage, services, tasks) calls these functions; a task
retries on ``AcquisitionError(transient=True)`` and records the message of any other.
"""

__version__ = "1.0.0"
