"""The admin's webhook endpoint pages' words (``key: (Chinese, English)``), merged into
``messages.PAGES``."""

from __future__ import annotations

ADMINWEBHOOK: dict[str, tuple[str, str]] = {
    "link_webhooks": ("Webhook 端点", "Webhook endpoints"),
    "webhooks_title": ("Webhook 端点", "Webhook endpoints"),
    "webhooks_intro": (
        "有自己系统的部门通过 webhook 接收案件事件：每次投递都用端点的密钥签名。",
        "Departments with a system of their own receive case events by webhook: every "
        "delivery is signed with the endpoint's secret.",
    ),
    "webhooks_none": ("尚未登记任何端点。", "No endpoint registered yet."),
    "webhook_new": ("登记端点", "Register an endpoint"),
    "webhook_id": ("编号", "Id"),
    "webhook_department": ("部门", "Department"),
    "webhook_url": ("接收地址（URL）", "Receiver URL"),
    "webhook_url_hint": (
        "部门系统接收投递的地址，http:// 或 https://",
        "Where the department's system receives deliveries, http:// or https://",
    ),
    "webhook_description": ("说明", "Description"),
    "webhook_events": ("事件类型", "Event kinds"),
    "webhook_events_all": ("全部", "All"),
    "webhook_events_hint": (
        "不勾选即接收本部门案件的全部事件。",
        "Tick none to receive every event of the department's cases.",
    ),
    "webhook_state": ("状态", "State"),
    "webhook_enabled": ("启用", "Enabled"),
    "webhook_disabled": ("已停用", "Disabled"),
    "webhook_disabled_why": ("已停用（{reason}）", "Disabled ({reason})"),
    "webhook_rotating": ("新旧密钥并行中", "two secrets valid"),
    "webhook_last": ("最近投递", "Last delivery"),
    "webhook_never": ("尚无投递", "none yet"),
    "webhook_rotate": ("更换密钥", "Rotate the secret"),
    "webhook_disable": ("停用", "Disable"),
    "webhook_enable": ("启用", "Enable"),
    "webhook_deliveries": ("投递记录", "Deliveries"),
    "webhook_register": ("登记", "Register"),
    "webhook_secret_created": (
        "已登记端点 {id}（{department}，{url}）。签名密钥如下，仅显示这一次："
        "请立即交给部门的系统管理员。",
        "Endpoint {id} ({department}, {url}) is registered. Its signing secret is shown only "
        "this once: hand it to the department's system admin now.",
    ),
    "webhook_secret_rotated": (
        "端点 {id} 的新签名密钥如下，仅显示这一次；旧密钥在 {until} 前仍然有效。",
        "The new signing secret of endpoint {id}, shown only this once; the previous one "
        "stays valid until {until}.",
    ),
    "back_to_webhooks": ("返回端点列表", "Back to the endpoints"),
    "webhook_was_disabled": ("已停用端点 {id}。", "Endpoint {id} disabled."),
    "webhook_was_enabled": ("已启用端点 {id}，等待中的投递将继续。", "Endpoint {id} enabled."),
    "webhook_redelivered": (
        "投递 {id} 已重新排队，稍后发送。",
        "Delivery {id} is queued again; it goes out in a moment.",
    ),
    "webhook_deliveries_title": ("端点 {id} 的投递记录", "Deliveries of endpoint {id}"),
    "webhook_no_deliveries": ("尚无投递。", "No delivery yet."),
    "delivery_id": ("投递编号", "Delivery"),
    "delivery_event": ("事件", "Event"),
    "delivery_case": ("案件", "Case"),
    "delivery_status": ("状态", "Status"),
    "delivery_attempts": ("尝试次数", "Attempts"),
    "delivery_result": ("最后结果", "Last result"),
    "delivery_created": ("生成时间", "Created"),
    "delivery_pending": ("待投递", "pending"),
    "delivery_delivered": ("已送达", "delivered"),
    "delivery_dead": ("投递失败（死信）", "dead letter"),
    "redeliver": ("重新投递", "Redeliver"),
    "webhooks_unavailable": ("Webhook 服务暂不可用，请稍后再试。", "Webhooks are unavailable now."),
    "no_such_endpoint": ("没有 webhook 端点 {id}。", "No webhook endpoint {id}."),
    "no_such_delivery": (
        "端点 {endpoint} 没有投递 {id}。",
        "No delivery {id} of endpoint {endpoint}.",
    ),
}
