"""The demo's sink: what the channels send lands in the folder the README points at."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from tests.service_fixtures import restartable_port
from whistle.notify.channels import Destination, DingTalkRobot, EmailChannel, SmtpConfig, WeComRobot
from whistle.notify.demo_sink import serve
from whistle.notify.message import CaseFacts, Message

pytestmark = pytest.mark.integration

SMTP_PORT, ROBOT_PORT = restartable_port(), restartable_port()


async def test_mail_and_robot_messages_are_written_to_the_folder(tmp_path: Path) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(serve(tmp_path, SMTP_PORT, ROBOT_PORT, stop))
    await asyncio.sleep(0.5)
    message = Message.create(
        "escalated", CaseFacts("WH-1", "消防通道被占"), "http://127.0.0.1:8080/v1/cases/WH-1",
        step="supervision", tier="street",
    )  # fmt: skip
    robots = f"http://127.0.0.1:{ROBOT_PORT}"
    try:
        mail = await EmailChannel(SmtpConfig("127.0.0.1", SMTP_PORT, "none")).send(
            message, Destination("urban-liaison@demo.whistle.local")
        )
        async with aiohttp.ClientSession() as session:
            wecom = await WeComRobot(session).send(
                message, Destination(f"{robots}/cgi-bin/webhook/send?key=k")
            )
            ding = await DingTalkRobot(session).send(
                message, Destination(f"{robots}/robot/send?access_token=t", "SEC")
            )
    finally:
        stop.set()
        await task
    assert (mail.status_code, wecom.refused, ding.refused) == (250, None, None)
    assert "街道督办" in (tmp_path / "mail.log").read_text(encoding="utf-8")
    assert (tmp_path / "0001.eml").exists()
    logged = [json.loads(line) for line in (tmp_path / "robots.log").read_text().splitlines()]
    assert [r["platform"] for r in logged] == ["wecom", "dingtalk"]
