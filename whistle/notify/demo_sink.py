"""The demo's mail and robot sink: a local SMTP server and a stand-in for the WeCom, DingTalk
and Feishu robots, writing what they receive under a folder (``var/mail`` on ``make run``).

Each e-mail is saved as ``NNNN.eml`` (open it in any mail program) and summarised in
``mail.log``; each robot message goes to ``robots.log`` as one JSON line. For the demo only:
the SMTP server accepts anything from anyone on 127.0.0.1, without TLS.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web


class MailFolder:
    """An aiosmtpd handler that saves each message into ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = len(list(folder.glob("*.eml")))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Save the message; log its recipients and decoded subject."""
        self.count += 1
        raw = envelope.original_content or envelope.content
        (self.folder / f"{self.count:04d}.eml").write_bytes(raw)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        line = f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z  {self.count:04d}.eml  to {', '.join(envelope.rcpt_tos)}  {parsed['Subject']}\n"  # noqa: E501
        with (self.folder / "mail.log").open("a", encoding="utf-8") as log:
            log.write(line)
        return "250 2.0.0 saved"


def robot_app(folder: Path) -> web.Application:
    """Answers as the three robots answer success, logging each message."""

    async def receive(request: web.Request) -> web.Response:
        body = await request.json()
        platform = (
            "wecom" if "webhook/send" in request.path
            else "dingtalk" if "robot/send" in request.path else "feishu"
        )  # fmt: skip
        record = {"at": datetime.now(UTC).isoformat(), "platform": platform, "message": body}
        with (folder / "robots.log").open("a", encoding="utf-8") as log:
            log.write(json.dumps(record, ensure_ascii=False) + "\n")
        return web.json_response({"code": 0} if platform == "feishu" else {"errcode": 0})

    app = web.Application()
    app.router.add_post("/cgi-bin/webhook/send", receive)
    app.router.add_post("/robot/send", receive)
    app.router.add_post("/open-apis/bot/v2/hook/{hook}", receive)
    return app


async def serve(folder: Path, smtp_port: int, robot_port: int, stop: asyncio.Event) -> None:
    """Run both until ``stop`` is set."""
    from aiosmtpd.controller import Controller  # a development dependency: the demo only

    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(MailFolder(folder), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    runner = web.AppRunner(robot_app(folder))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", robot_port).start()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        controller.stop()
