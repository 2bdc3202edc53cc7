"""SLA policies measured in seconds, so tests can watch deadlines breach and escalate."""

from __future__ import annotations

from pathlib import Path

ACK_WITHIN_S = 4
SUPERVISION_AFTER_S = 3
POLICY_NAMES = ("standard", "whistle", "working_days")
URGENCIES = ("emergency", "utilities", "general", "complex")


def short_sla_policies_toml(ack_within_s: int = ACK_WITHIN_S) -> str:
    """Every packaged policy name, acknowledging within seconds and escalating soon after."""
    parts = ['version = "test-fast"']
    for name in POLICY_NAMES:
        parts.append(f'[policies.{name}]\ndescription = "fast test policy"')
        for urgency in URGENCIES:
            parts.append(
                f"[policies.{name}.clocks.{urgency}]\n"
                f'ack = {{ within = "PT{ack_within_s}S", mode = "calendar" }}\n'
                'resolve = { within = "P7D", mode = "calendar" }'
            )
        parts.append(
            f'[[policies.{name}.escalation]]\nstep = "reminder"\ntier = "community"\nafter = "PT0S"'
        )
        parts.append(
            f'[[policies.{name}.escalation]]\nstep = "supervision"\ntier = "street"\n'
            f'after = "PT{SUPERVISION_AFTER_S}S"'
        )
    return "\n\n".join(parts) + "\n"


def write_short_sla_policies(folder: Path, ack_within_s: int = ACK_WITHIN_S) -> Path:
    """Write the fast policies file into ``folder`` and return its path."""
    path = folder / "fast-policies.toml"
    path.write_text(short_sla_policies_toml(ack_within_s), encoding="utf-8")
    return path
