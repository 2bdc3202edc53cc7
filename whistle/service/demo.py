"""Demo data drawn from the seed: users in 同安区 and whistles across the three districts."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

import whistle

DEMO_POLICIES = Path(whistle.__file__).parent / "data" / "sla_policies_demo.toml"
"""The demo's SLA policies: the real ladders in minutes (sign for a case within 2 minutes)."""

ENV_NAMES = {
    "demo-admin": "ADMIN",
    "demo-secretary-jinhai": "SECRETARY",
    "demo-supervisor-tongan": "SUPERVISOR",
    "demo-liaison-transport": "TRANSPORT",
    "demo-liaison-urban": "URBAN",
    "demo-liaison-police": "POLICE",
}
"""Shell variable of each demo user's token in ``demo.env``."""


@dataclass(frozen=True)
class DemoUser:
    """A demo user; its token is made once and kept in the local state folder."""

    user_id: str
    role: str
    area: str | None = None
    department: str | None = None
    name: str = ""
    username: str = ""
    """What the person types on the login page (the password is printed by ``make run``)."""


DEMO_USERS = (
    DemoUser("demo-admin", "admin", name="演示管理员", username="admin"),
    DemoUser(
        "demo-secretary-jinhai",
        "secretary",
        area="tongan.datong.jinhai",
        name="金海社区书记",
        username="jinhai",
    ),
    DemoUser(
        "demo-supervisor-tongan", "supervisor", area="tongan", name="同安区督办", username="tongan"
    ),
    DemoUser(
        "demo-liaison-transport",
        "liaison",
        department="transport",
        name="交通联络员",
        username="transport",
    ),
    DemoUser(
        "demo-liaison-urban",
        "liaison",
        department="urban_management",
        name="城管联络员",
        username="urban",
    ),
    DemoUser(
        "demo-liaison-police",
        "liaison",
        department="public_security",
        name="公安联络员",
        username="police",
    ),
)

DEMO_WHISTLES: tuple[dict[str, Any], ...] = (
    {
        "community": "tongan.datong.jinhai",
        "category": "parking",
        "title": "滨海步道周末游客车辆违停，堵塞消防通道",
        "address": "同安区大同街道金海社区滨海步道入口",
        "urgency": "general",
    },
    {
        "community": "tongan.datong.jinhai",
        "category": "tourist_crowds",
        "title": "海边网红打卡点游客激增，占道摆摊",
        "address": "金海社区滨海浪漫线",
    },
    {
        "community": "tongan.datong.fengxiang",
        "category": "square_dancing",
        "title": "广场舞噪音扰民（夜间十点后）",
        "address": "凤祥社区中心广场",
    },
    {
        "community": "haicang.xinyang.xinyang",
        "compound": "haicang.xinyang.xinyang.vanke",
        "category": "property_management",
        "title": "万科城小区物业与业主停车费纠纷",
        "address": "海沧区万科城",
    },
    {
        "community": "xiangan.dadeng.shuanghu",
        "category": "sanitation",
        "title": "老旧片区垃圾清运不及时",
        "address": "翔安区大嶝街道双沪社区",
    },
    {
        "community": "xiangan.maxiang.wumei",
        "category": "greening",
        "title": "村口绿化带长期缺乏养护",
        "address": "翔安区马巷镇五美社区",
    },
)


def read_tokens(path: Path) -> dict[str, str]:
    """Demo tokens kept from an earlier run (user id → token)."""
    return dict(json.loads(path.read_text())) if path.exists() else {}


def write_tokens(path: Path, tokens: dict[str, str]) -> None:
    """Keep the demo tokens for the next run, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tokens, indent=2))
    path.chmod(0o600)


def demo_passwords(path: Path) -> dict[str, str]:
    """The demo's login passwords (username → password): kept from an earlier run, a fresh
    generated one for each username that has none yet; written back readable by the owner."""
    from whistle.web.passwords import generated_password

    kept = read_tokens(path)
    passwords = {u.username: kept.get(u.username) or generated_password() for u in DEMO_USERS}
    write_tokens(path, passwords)
    return passwords


def login_table(api: str, passwords: dict[str, str]) -> str:
    """The lines ``make run`` prints: where to log in, each demo person's username and password."""
    lines = [f"  Log in:      {api}/login   (username / password)"]
    for user in DEMO_USERS:
        lines.append(f"    {user.username:<10} {passwords[user.username]:<20}  {user.name}")
    return "\n".join(lines)


def write_env(path: Path, api: str, tokens: dict[str, str]) -> Path:
    """``demo.env``: the API's URL and every demo token as shell variables (``source`` it)."""
    lines = [
        "# Written by `whistle run --demo`: source it, then follow the README's walk-through.",
        f"export API={api} WHISTLE_API_URL={api}",
        *(
            f"export {ENV_NAMES[user]}={token}"
            for user, token in tokens.items()
            if user in ENV_NAMES
        ),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def raise_whistles(api: str, tokens: dict[str, str]) -> list[str]:
    """Raise the demo whistles (idempotent: fixed Idempotency-Keys); return their case ids."""
    case_ids = []
    for number, body in enumerate(DEMO_WHISTLES, start=1):
        user = "demo-secretary-jinhai" if body["community"].endswith("jinhai") else "demo-admin"
        response = httpx.post(
            f"{api}/v1/cases",
            json=body,
            headers={
                "Authorization": f"Bearer {tokens[user]}",
                "Idempotency-Key": f"demo-whistle-{number}",
            },
            timeout=30.0,
        )
        if response.status_code not in (200, 201, 202):
            raise RuntimeError(
                f"demo whistle {number}: HTTP {response.status_code} {response.text}"
            )
        case_ids.append(response.json()["case_id"])
    return case_ids


def wait_routed(api: str, token: str, case_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """The case once its read model shows the routed department."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{api}/v1/cases/{case_id}", headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code == 200 and response.json().get("lead_department"):
            return dict(response.json())
        time.sleep(0.5)
    raise RuntimeError(f"case {case_id} was not routed within {timeout_s:.0f} s")


def readiness_reasons(api: str) -> list[str]:
    """Why ``/readyz`` says ``degraded`` (the holiday calendar running out), in Chinese."""
    try:
        body = httpx.get(f"{api}/readyz", timeout=5.0).json()
    except (httpx.HTTPError, ValueError):
        return []
    return [str(r.get("message", "")) for r in body.get("reasons", []) if isinstance(r, dict)]
