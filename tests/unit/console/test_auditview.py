"""The audit log as the console prints it."""

from __future__ import annotations

from whistle.console.auditview import audit_lines, changes


def test_changes_name_what_differs() -> None:
    before = {"role": "liaison", "area": None, "department": "transport", "name": "王"}
    after = {"role": "supervisor", "area": "tongan", "department": None, "name": "王"}
    assert changes(before, after) == (
        "role: liaison → supervisor, area: – → tongan, department: transport → –"
    )
    assert changes(None, {"role": "admin", "area": None, "name": ""}) == "role=admin"
    assert changes({"event_types": ["a"]}, {"event_types": ["a", "b"]}) == "event_types: a → a,b"


def test_lines_newest_first_with_the_next_page() -> None:
    page = {
        "items": [
            {"entry_id": 7, "at": "2026-12-02T05:30:00+00:00", "actor": "root",
             "kind": "user.revoked", "subject": "li-old", "before": {"revoked_at": None},
             "after": {"revoked_at": "2026-12-02T05:30:00+00:00"}, "note": ""},
            {"entry_id": 6, "at": "2026-12-02T05:00:00+00:00", "actor": "cli:ops",
             "kind": "webhook.added", "subject": "webhook 3", "before": None,
             "after": {"department": "transport", "enabled": True}, "note": "新系统"},
        ],
        "next": "/v1/audit?before=6&limit=2",
    }  # fmt: skip
    zh = audit_lines(page, "zh")
    assert zh[0].startswith("12-02 13:30") and "吊销令牌" in zh[0] and "li-old" in zh[0]
    assert "新增回调地址" in zh[1] and "department=transport" in zh[1] and "（" not in zh[1]
    assert zh[1].endswith("(新系统)") and zh[2] == "更早的记录：--before 6"
    en = audit_lines(page, "en")
    assert "token revoked" in en[0] and en[2] == "Older entries: --before 6"
    assert audit_lines({"items": []}, "en") == ["No entries match."]
