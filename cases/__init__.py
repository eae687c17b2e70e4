"""Case core: intake reports, cases, parties, allegations, committee, workflow clocks, notes,
responses, findings, sanctions, appeals and the timeline.

Writes only via ``cases.services``; reads for a user only via ``cases.selectors`` (the access gate).
Views, serializers, tasks and admin are thin interfaces over those two modules.
"""
