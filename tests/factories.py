"""factory_boy factories for people. Case data is never made by factories: it is made through
``cases.services``, as the application makes it, so that tests see the rows and timeline events
that real use leaves behind.

Every user's password is ``"pw-" + username`` so that API tests can log in as anyone in the cast.
"""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth.models import Group, User
from factory.django import DjangoModelFactory

from cases.selectors import OFFICE_GROUP


def password_for(username: str) -> str:
    return f"pw-{username}"


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")

    @factory.post_generation
    def password(obj: User, create: bool, extracted: str | None, **kwargs: Any) -> None:  # noqa: N805
        obj.set_password(extracted or password_for(obj.username))
        if create:
            obj.save(update_fields=["password"])


class OfficerFactory(UserFactory):
    """A member of the integrity office (the ``integrity_office`` group)."""

    @factory.post_generation
    def office(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:  # noqa: N805
        if create:
            group, _ = Group.objects.get_or_create(name=OFFICE_GROUP)
            obj.groups.add(group)
