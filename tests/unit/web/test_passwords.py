"""The strength rule, generated passwords, hashing, and where a login may send you on."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from whistle.web.pages import local_target
from whistle.web.passwords import Passwords, generated_password, weakness


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short1a", "password_too_short"),
        ("onlyletters", "password_letters_digits"),
        ("1234567890", "password_letters_digits"),
        ("jinhai-2026-x", "password_has_username"),
        ("JINHAI2026abc", "password_has_username"),
        ("滨海步道2026年春", None),
        ("blue-harbour-7", None),
    ],
)
def test_the_minimal_strength_rule(password: str, problem: str | None) -> None:
    assert weakness(password, "jinhai") == problem


def test_generated_passwords_pass_the_rule_and_differ() -> None:
    made = {generated_password() for _ in range(50)}
    assert len(made) == 50
    assert all(weakness(p, "") is None and len(p) == 19 for p in made)


async def test_a_hash_verifies_only_its_password_and_an_old_cost_asks_for_a_rehash() -> None:
    cheap = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    stored = await Passwords(cheap).hash("blue-harbour-7")
    assert stored.startswith("$argon2id$")
    assert await Passwords(cheap).verify(stored, "blue-harbour-7") == (True, False)
    assert await Passwords(cheap).verify(stored, "blue-harbour-8") == (False, False)
    assert await Passwords(cheap).verify(None, "blue-harbour-7") == (False, False)
    stronger = Passwords(PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1))
    assert await stronger.verify(stored, "blue-harbour-7") == (True, True)


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/admin/users?x=1", "/admin/users?x=1"), ("//evil.example", "/"), ("/\\evil", "/"),
     ("https://evil.example/", "/"), ("", "/"), (None, "/")],
)  # fmt: skip
def test_a_login_only_follows_paths_of_this_site(target: str | None, expected: str) -> None:
    assert local_target(target) == expected
