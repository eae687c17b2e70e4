"""Routes of the server-rendered pages, mounted at the site root by integrity/urls.py."""

from django.urls import path

from cases import views

urlpatterns = [
    path("cases/<str:number>/", views.case_detail, name="case-page"),
]
