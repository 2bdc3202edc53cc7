"""`whistle run --demo` writes its tokens as shell variables, and its fast SLA policies load."""

from __future__ import annotations

import subprocess
from pathlib import Path

from whistle.domain.sla import load_policies
from whistle.service.demo import (
    DEMO_POLICIES,
    DEMO_USERS,
    ENV_NAMES,
    demo_passwords,
    login_table,
    write_env,
)


def test_demo_env_exports_every_demo_token_and_the_api(tmp_path: Path) -> None:
    tokens = {user.user_id: f"wh_{user.user_id}" for user in DEMO_USERS}
    path = write_env(tmp_path / "demo.env", "http://127.0.0.1:8080", tokens)
    names = " ".join(f"${name}" for name in ENV_NAMES.values())
    shown = subprocess.run(
        ["bash", "-c", f"source {path} && echo $API $WHISTLE_API_URL {names}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert shown == ["http://127.0.0.1:8080"] * 2 + [f"wh_{user}" for user in ENV_NAMES]
    assert path.stat().st_mode & 0o077 == 0


def test_the_demo_policies_cover_every_packaged_policy_with_a_two_minute_sign_for() -> None:
    demo, packaged = load_policies(DEMO_POLICIES), load_policies()
    assert set(demo) == set(packaged)
    for policy in demo.values():
        for clocks in policy.clocks.values():
            assert clocks["ack"].within.total_seconds() == 120


def test_demo_passwords_are_kept_between_runs_and_printed_with_the_usernames(
    tmp_path: Path,
) -> None:
    path = tmp_path / "demo-passwords.json"
    first = demo_passwords(path)
    assert set(first) == {u.username for u in DEMO_USERS} and len(set(first.values())) == 6
    assert demo_passwords(path) == first and path.stat().st_mode & 0o077 == 0
    table = login_table("http://127.0.0.1:8080", first)
    assert "http://127.0.0.1:8080/login" in table
    assert all(f"{u.username:<10} {first[u.username]}" in table for u in DEMO_USERS)
