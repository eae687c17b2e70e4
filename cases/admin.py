"""Django admin for staff: read-only views of case data with the same access rules as the API.

Writes go through the services (API and pages), so the admin never changes a case behind the
timeline's back. A non-superuser sees only the cases the access gate lets them see.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from cases import models as m
from cases.selectors import case_list_for_user, report_list_for_user


class ReadOnlyAdmin(admin.ModelAdmin):
    case_path: str | None = "case"  # lookup from the model to its Case, for the access filter

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        visible = case_list_for_user(user=request.user).values("pk")
        if self.case_path is None:
            return qs.filter(pk__in=visible)
        return qs.filter(**{f"{self.case_path}__in": visible})


@admin.register(m.Case)
class CaseAdmin(ReadOnlyAdmin):
    case_path = None
    list_display = ["number", "title", "workflow", "state", "created_at", "closed_at"]
    list_filter = ["workflow", "state"]
    search_fields = ["number", "title"]


@admin.register(m.Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ["reference", "mode", "kind", "title", "status", "created_at"]
    list_filter = ["status", "mode", "kind"]
    search_fields = ["reference", "title"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        if request.user.is_superuser:
            return super(ReadOnlyAdmin, self).get_queryset(request)
        return report_list_for_user(user=request.user)


@admin.register(m.CaseParty)
class CasePartyAdmin(ReadOnlyAdmin):
    list_display = ["case", "party", "role", "identity_withheld"]
    list_filter = ["role"]


@admin.register(m.Allegation)
class AllegationAdmin(ReadOnlyAdmin):
    list_display = ["case", "respondent", "kind", "created_at"]
    list_filter = ["kind"]


@admin.register(m.CaseMember)
class CaseMemberAdmin(ReadOnlyAdmin):
    list_display = ["case", "user", "role", "recused_at"]
    list_filter = ["role"]


@admin.register(m.Clock)
class ClockAdmin(ReadOnlyAdmin):
    list_display = ["case", "label", "party", "due_at", "status"]
    list_filter = ["status", "key"]


@admin.register(m.Note)
class NoteAdmin(ReadOnlyAdmin):
    list_display = ["case", "author", "visibility", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # Personal notes stay personal, in the admin too.
        qs = super().get_queryset(request)
        personal = m.Note.Visibility.PERSONAL
        return qs.exclude(visibility=personal) | qs.filter(visibility=personal, author=request.user)


@admin.register(m.Response)
class ResponseAdmin(ReadOnlyAdmin):
    list_display = ["case", "party", "kind", "created_at"]


@admin.register(m.Sanction)
class SanctionAdmin(ReadOnlyAdmin):
    list_display = ["case", "respondent", "kind", "status", "due_date"]
    list_filter = ["status", "kind"]


@admin.register(m.Appeal)
class AppealAdmin(ReadOnlyAdmin):
    list_display = ["case", "appellant", "status", "created_at"]


@admin.register(m.TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdmin):
    list_display = ["case", "at", "kind", "summary"]
    list_filter = ["kind"]
