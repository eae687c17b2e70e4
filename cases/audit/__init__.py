"""The tamper-evident audit log: every event in Slipcase, as leaves of an RFC 6962 Merkle tree.

Contract:

* Append only through ``cases.audit.services.audit_append``, inside the transaction of the change
  it records, so that a rolled-back change leaves no entry. Entries are never updated or deleted;
  ``seq`` runs 0, 1, 2, ... without gaps and is the leaf index.
* An entry is self-contained: its leaf data (``AuditEntry.leaf_data()``) is the canonical JSON of
  ``{seq, at, actor, kind, case, payload}`` and its leaf hash is ``SHA-256(0x00 || leaf data)``.
* ``tree_head_sign`` signs the current tree (Ed25519; optionally an RFC 3161 time stamp) and records
  the signed head as an entry of the log itself (kind ``audit.tree_head``), so that a removed head
  is noticed.
* ``audit_verify`` recomputes everything from the stored rows and names the first problem;
  ``inclusion_proof_for`` and ``consistency_proof_between`` give JSON that
  ``scripts/verify_audit_proof.py`` checks without Django (see ``docs/audit.md``).
* ``merkle`` is pure (stdlib only); ``tsa`` is the RFC 3161 client (``cryptography``,
  ``asn1crypto``, ``urllib``); neither imports Django.
"""
