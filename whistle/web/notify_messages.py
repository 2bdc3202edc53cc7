"""The words of the notification settings page (merged into ``PAGES``)."""

from __future__ import annotations

NOTIFY: dict[str, tuple[str, str]] = {
    "link_notify_settings": ("通知设置", "Notification settings"),
    "notify_title": ("通知设置", "Notification settings"),
    "notify_intro": (
        "新派单、临近时限、超时、督办和集结通知会按下面的设置发给您；站内通知始终开启。",
        "New cases, approaching deadlines, breaches, escalations and joint actions reach you "
        "as set below; in-app notifications are always on.",
    ),
    "notify_saved": ("通知设置已保存。", "Your notification settings are saved."),
    "notify_unavailable": ("通知服务暂不可用，请稍后再试。", "Notifications are unavailable now."),
    "notify_language": ("通知语言", "Language of messages"),
    "notify_email": ("电子邮箱", "E-mail"),
    "notify_phone": ("手机号（短信）", "Mobile (SMS)"),
    "notify_phone_hint": ("中国大陆手机号，如 13912345678", "A mainland mobile, e.g. 13912345678"),
    "notify_robot": ("群机器人", "Chat robot"),
    "notify_robot_on_file": ("已设置{platform}机器人", "A {platform} robot is on file"),
    "notify_robot_signed": ("已加签", "signed"),
    "notify_robot_platform": ("平台", "Platform"),
    "notify_robot_url": ("机器人 Webhook 地址", "Robot webhook URL"),
    "notify_robot_url_hint": (
        "留空则保留已设置的机器人（地址含密钥，不再显示）",
        "Leave empty to keep the robot on file (its URL holds its key and is not shown)",
    ),
    "notify_robot_secret": (
        "加签密钥（钉钉、飞书，可选）",
        "Signing secret (DingTalk, Feishu; optional)",
    ),
    "notify_robot_remove": ("删除机器人", "Remove the robot"),
    "notify_quiet": ("免打扰时段（北京时间）", "Quiet hours (China time)"),
    "notify_quiet_start": ("开始", "From"),
    "notify_quiet_end": ("结束", "Until"),
    "notify_quiet_hint": (
        "结束早于开始即跨夜；紧急案件不受免打扰限制",
        "An end before the start runs over midnight; emergencies break through",
    ),
    "notify_digest": ("每天汇总一条（紧急案件除外）", "One digest a day (emergencies excepted)"),
    "notify_channels": ("接收渠道", "Channels"),
    "notify_channels_hint": (
        "按顺序使用第一个已设置地址的渠道，失败后改用下一个",
        "The first channel with an address is used; the next when it fails for good",
    ),
    "channel_wecom": ("企业微信", "WeCom"),
    "channel_dingtalk": ("钉钉", "DingTalk"),
    "channel_feishu": ("飞书", "Feishu"),
    "channel_email": ("电子邮件", "E-mail"),
    "channel_sms": ("短信", "SMS"),
}
