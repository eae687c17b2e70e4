"""Routes of the server-rendered pages, mounted at the site root by integrity/urls.py."""

from django.urls import path

from cases import views

urlpatterns = [
    path("cases/<str:number>/", views.case_detail, name="case-page"),
]

from analysis import views as analysis_views  # noqa: E402

urlpatterns += [
    path(
        "cases/<str:number>/analyses/<int:run_id>/", analysis_views.run_detail, name="analysis-run"
    ),
    path(
        "cases/<str:number>/analyses/<int:run_id>/pairs/<int:index>/",
        analysis_views.pair_view,
        name="analysis-pair",
    ),
]
