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
    # 接收哪些通知 (subscriptions): the user's section and the admin's department pages
    "notify_kinds": ("接收哪些通知", "Which notifications you receive"),
    "notify_kinds_hint": (
        "取消勾选即不再接收该类通知（站内与各渠道）；紧急案件的通知始终送达。",
        "Untick a kind to stop receiving it (in-app and on every channel); an emergency "
        "case's notifications always arrive.",
    ),
    "notify_kinds_saved": ("接收设置已保存。", "Your choice of notifications is saved."),
    "notify_kinds_save": ("保存接收设置", "Save these choices"),
    "notify_kind_fixed": (
        "督办人员不能关闭：超时和催办、督办、通报须送达本层级",
        "Supervisors cannot turn this off: breaches and escalations must reach their tier",
    ),
    "notify_kind_from_department": ("本部门默认", "your department's default"),
    "notify_kind_own": ("本人设置", "your own choice"),
    "kind_assigned": ("新派单", "New assignment"),
    "kind_deadline_approaching": ("临近时限提醒（50%、80%）", "Deadline approaching (50 %, 80 %)"),
    "kind_deadline_breached": ("超时", "Deadline breached"),
    "kind_escalated": ("催办、督办、通报", "Escalations (催办, 督办, 通报)"),
    "kind_dispute_raised": ("退单待裁定", "Dispute to rule on"),
    "kind_dispute_ruled": ("退单裁定结果", "Dispute ruled"),
    "kind_joint_action_scheduled": ("集结通知", "Joint action scheduled"),
    "kind_joint_action_moved": ("集结时间地点变更", "Joint action moved"),
    "kind_reopened": ("回访不满意、案件重开", "Unsatisfied callback, case reopened"),
    "kind_extension_requested": ("延期申请待审批", "Extension request to decide"),
    "kind_extension_decided": ("延期申请结果", "Extension decided"),
    "link_notify_departments": ("部门通知默认", "Departments' notifications"),
    "notify_departments_title": ("各部门接收的通知", "Which notifications departments receive"),
    "notify_departments_intro": (
        "部门设置适用于该部门的全部联络员；联络员本人的设置优先。",
        "A department's setting applies to all its liaisons; a liaison's own choice comes first.",
    ),
    "notify_department_title": ("{department}：接收哪些通知", "{department}: notifications"),
    "notify_department_off": ("已关闭", "Turned off"),
    "notify_department_none": ("全部开启（默认）", "All on (the default)"),
    "notify_department_edit": ("修改", "Edit"),
    "notify_department_back": ("返回部门列表", "Back to the departments"),
    "notify_department_col": ("部门", "Department"),
}
