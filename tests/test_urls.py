import pytest
from django.contrib.auth.models import AbstractUser
from django.test import Client


@pytest.mark.django_db
def test_schema_is_served_as_openapi(client: Client) -> None:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"] == {
        "title": "Slipcase API",
        "version": "1.0.0",
        "description": schema["info"]["description"],
    }
    assert any(path.startswith("/api/v1/") for path in schema["paths"])


@pytest.mark.django_db
def test_swagger_ui_page_is_served(client: Client) -> None:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"/api/schema/" in response.content


@pytest.mark.django_db
def test_token_endpoint_issues_a_token_for_valid_credentials(
    client: Client, django_user_model: type[AbstractUser]
) -> None:
    django_user_model.objects.create_user(username="officer", password="a long passphrase")
    response = client.post(
        "/api/auth/token/", {"username": "officer", "password": "a long passphrase"}
    )
    assert response.status_code == 200
    assert len(response.json()["token"]) == 40


@pytest.mark.django_db
def test_token_endpoint_refuses_wrong_credentials(
    client: Client, django_user_model: type[AbstractUser]
) -> None:
    django_user_model.objects.create_user(username="officer", password="a long passphrase")
    response = client.post("/api/auth/token/", {"username": "officer", "password": "guess"})
    assert response.status_code == 400
    assert "token" not in response.json()
