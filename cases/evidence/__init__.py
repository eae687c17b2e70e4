"""Evidence vault (Django side): content-addressed storage, exhibits, chain of custody, sealed
probe sets, snapshots of volatile artefacts (run as Celery tasks over ``cases.vault``), retention.

Writes only via ``cases.evidence.services``; reads for a user only via
``cases.evidence.selectors``, which take a ``CaseAccess`` from the case core's access gate.
"""
