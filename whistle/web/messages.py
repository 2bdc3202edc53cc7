"""The pages' words, in the project's one catalogue format: ``key: (Chinese, English)``.

The API's problems (``whistle.api.i18n``) and the decider's rejections
(``whistle.domain.rejections.MESSAGES``) use the same shape and the same :func:`text`; a page
shows a rejection through ``rejections.render`` so a refused action reads exactly as the API
says it. docs/web.md says why this, not Babel's gettext. A unit test checks that every key
used in a template exists here and that every entry has both languages.
"""

from __future__ import annotations

from whistle.api.i18n import Lang
from whistle.api.i18n import text as _text
from whistle.web.adminconf_messages import ADMINCONF
from whistle.web.adminwebhook_messages import ADMINWEBHOOK
from whistle.web.inapp_messages import INAPP
from whistle.web.liaison_messages import LIAISON
from whistle.web.notify_messages import NOTIFY
from whistle.web.public_messages import PUBLIC
from whistle.web.supervisor_messages import SUPERVISOR

PAGES: dict[str, tuple[str, str]] = {
    # layout
    "site_name": ("社区吹哨", "Whistle"),
    "skip_to_content": ("跳到正文", "Skip to content"),
    "switch_language": ("English", "中文"),
    "switch_language_label": ("切换为英文", "Switch to Chinese"),
    "logged_in_as": ("{name}（{role}）", "{name} ({role})"),
    "logout": ("退出登录", "Log out"),
    "home": ("首页", "Home"),
    "save": ("保存", "Save"),
    # login
    "login_title": ("登录", "Log in"),
    "login_intro": (
        "请使用管理员发给您的用户名和密码登录。",
        "Log in with the username and password your admin gave you.",
    ),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "login_button": ("登录", "Log in"),
    "bad_credentials": ("用户名或密码错误。", "Wrong username or password."),
    "locked": (
        "登录失败次数过多，已暂时锁定：请在 {minutes} 分钟后再试。",
        "Too many failed logins; locked for now: try again in {minutes} min.",
    ),
    "required": ("请填写此项。", "Please fill this in."),
    "logged_out": ("您已退出登录。", "You have logged out."),
    # password
    "password_title": ("修改密码", "Change password"),
    "must_change_password": (
        "您的密码由管理员设置：请先改为只有您知道的密码。",
        "Your password was set by an admin: change it to one only you know.",
    ),
    "old_password": ("当前密码", "Current password"),
    "new_password": ("新密码", "New password"),
    "new_password_again": ("再次输入新密码", "New password again"),
    "password_rule": (
        "至少 10 个字符，须同时包含字母和数字，且不能包含用户名。",
        "At least 10 characters, with letters and digits, not containing your username.",
    ),
    "old_password_wrong": ("当前密码不正确。", "The current password is wrong."),
    "password_unchanged": ("新密码不能与当前密码相同。", "The new password must differ."),
    "password_too_short": ("密码至少需要 10 个字符。", "At least 10 characters."),
    "password_too_long": ("密码最多 256 个字符。", "At most 256 characters."),
    "password_letters_digits": ("密码须同时包含字母和数字。", "Use both letters and digits."),
    "password_has_username": (
        "密码不能包含用户名。",
        "The password must not contain your username.",
    ),
    "passwords_differ": ("两次输入的新密码不一致。", "The two new passwords differ."),
    "password_changed": (
        "密码已修改；您在其他设备上的登录已退出。",
        "Password changed; your other sessions were logged out.",
    ),
    # home
    "home_title": ("我的工作台", "My workspace"),
    "you_are": ("您好，{name}。", "Hello, {name}."),
    "your_role": ("角色", "Role"),
    "your_scope": ("范围", "Scope"),
    "scope_everything": ("全部", "Everything"),
    "what_you_can_do": ("您可以", "What you can do"),
    "link_dashboard": ("督办看板", "Supervisors' board"),
    "link_users": ("用户管理", "Users"),
    "link_password": ("修改密码", "Change password"),
    "link_api_docs": ("接口文档", "API documentation"),
    "more_soon": ("更多工作页面将陆续在此列出。", "More workspaces will be listed here."),
    # roles
    "role_secretary": ("社区书记", "Community secretary"),
    "role_liaison": ("部门联络员", "Department liaison"),
    "role_supervisor": ("督办", "Supervisor"),
    "role_admin": ("管理员", "Administrator"),
    "role_config_admin": ("配置管理员", "Configuration admin"),
    # admin: users
    "users_title": ("用户管理", "Users"),
    "user_id": ("用户编号", "User id"),
    "display_name": ("姓名", "Name"),
    "role": ("角色", "Role"),
    "area": ("辖区代码", "Area code"),
    "area_hint": (
        "社区书记填社区代码，督办填街道或区代码，配置管理员填区代码。",
        "A community for a secretary, a street or district for a supervisor,"
        " a district for a configuration admin.",
    ),
    "department": ("部门代码", "Department code"),
    "department_hint": ("仅部门联络员填写。", "Only for a liaison."),
    "status": ("状态", "Status"),
    "active": ("有效", "Active"),
    "revoked": ("已吊销", "Revoked"),
    "no_password": ("仅令牌（机器）", "Token only (machine)"),
    "actions": ("操作", "Actions"),
    "new_user": ("新增用户", "New user"),
    "create": ("创建", "Create"),
    "reset_password": ("重置密码", "Reset password"),
    "revoke": ("吊销", "Revoke"),
    "password_shown_once": (
        "{user_id} 的用户名为 {username}，初始密码如下，仅显示这一次；首次登录后须修改。",
        "{user_id} logs in as {username} with this password, shown only this once;"
        " it must be changed at the first login.",
    ),
    "back_to_users": ("返回用户列表", "Back to the users"),
    "user_revoked": ("已吊销 {user_id}。", "{user_id} revoked."),
    "no_such_user": ("没有有效用户 {user_id}。", "No active user {user_id}."),
    "user_exists": ("用户编号或用户名已存在。", "The user id or username exists already."),
    "bad_identifier": (
        "只能使用小写字母、数字、点、连字符和下划线（2–64 个字符）。",
        "Lowercase letters, digits, '.', '-' and '_' only (2–64 characters).",
    ),
    "need_area": ("该角色须填写辖区代码。", "This role needs an area code."),
    "no_area": ("该角色不按辖区划分：请留空。", "This role has no area: leave it empty."),
    "need_department": ("部门联络员须填写部门代码。", "A liaison needs a department code."),
    "no_department": ("该角色不属于部门：请留空。", "This role has no department: leave it empty."),
    "unknown_department": ("没有部门 {code}。", "No department {code}."),
    "wrong_area": (
        "{code} 不是该角色可用的辖区（须为：{kinds}）。",
        "{code} is not an area this role can have ({kinds}).",
    ),
    # the secretary's pages: raise a whistle
    "link_whistle": ("吹哨", "Raise a whistle"),
    "link_cases": ("社区案件", "Community cases"),
    "whistle_title": ("吹哨", "Raise a whistle"),
    "whistle_intro": (
        "社区解决不了的问题：选类别、说清地点，部门会按规则派单。",
        "A problem the community cannot solve alone: pick a category, say where; it is routed.",
    ),
    "category": ("类别", "Category"),
    "category_search": ("搜索类别", "Search categories"),
    "category_search_hint": ("输入关键词，如“停车”“噪音”。", "Type a word, e.g. parking, noise."),
    "choose": ("请选择", "Choose"),
    "pick_category": ("请选择类别。", "Pick a category."),
    "community": ("社区", "Community"),
    "pick_community": ("请选择您辖区内的社区。", "Pick a community in your area."),
    "compound": ("小区", "Compound"),
    "grid": ("网格", "Grid"),
    "none_chosen": ("（不选）", "(none)"),
    "not_in_community": ("不在所选社区内。", "Not in the chosen community."),
    "address": ("地址", "Address"),
    "address_hint": ("地址或手机定位至少填一项。", "An address or the phone's location, or both."),
    "need_address": ("请填写地址或使用手机定位。", "Give an address or use your location."),
    "use_location": ("使用手机定位", "Use my location"),
    "location_set": ("已获取定位：{lat}, {lon}", "Location taken: {lat}, {lon}"),
    "location_denied": ("未能获取定位，请填写地址。", "No location; please type the address."),
    "bad_location": ("定位数据无效，请重新获取或只填地址。", "The location is invalid; retake it."),
    "urgency": ("紧急程度", "Urgency"),
    "urgency_emergency": ("紧急（2 小时）", "Emergency (2 h)"),
    "urgency_utilities": ("水电气热（24 小时）", "Utilities (24 h)"),
    "urgency_general": ("一般（7 天）", "General (7 days)"),
    "urgency_complex": ("复杂（15 天）", "Complex (15 days)"),
    "case_title": ("标题", "Title"),
    "title_hint": ("一句话，如“滨海步道违停”。", "One line, e.g. cars parked on the seaside walk."),
    "description": ("描述", "Description"),
    "requester_name": ("居民姓名", "Resident's name"),
    "requester_phone": ("居民电话", "Resident's phone"),
    "requester_hint": ("仅本案件的相关方可见。", "Seen only by the case's own parties."),
    "send_whistle": ("吹哨", "Raise the whistle"),
    "form_has_errors": ("请修改标出的项目。", "Please correct the marked fields."),
    "refused": ("未能提交：{reason}", "Not sent: {reason}"),
    # her community's cases
    "cases_title": ("社区案件", "Community cases"),
    "no_cases": ("暂无案件。", "No cases yet."),
    "case_id": ("案件编号", "Case id"),
    "lead_department": ("牵头部门", "Lead department"),
    "deadline": ("最近时限", "Nearest deadline"),
    "raised_at": ("吹哨时间", "Raised"),
    "due_in": ("剩余 {span}", "{span} left"),
    "overdue_by": ("已超时 {span}", "overdue by {span}"),
    "span_days": ("{days} 天 {hours} 小时", "{days} d {hours} h"),
    "span_hours": ("{hours} 小时 {minutes} 分", "{hours} h {minutes} min"),
    "span_minutes": ("{minutes} 分钟", "{minutes} min"),
    "due_at": ("截止 {due}", "due {due}"),
    "clock_ack": ("签收", "sign for"),
    "clock_contact": ("联系居民", "contact"),
    "clock_joint_action": ("集结", "joint action"),
    "clock_resolve": ("办结", "resolve"),
    "status_raised": ("已吹哨", "Raised"),
    "status_routed": ("已派单", "Routed"),
    "status_acknowledged": ("已签收", "Signed for"),
    "status_in_progress": ("办理中", "In progress"),
    "status_reopened": ("已重开", "Reopened"),
    "status_resolved": ("已办结", "Resolved"),
    "status_awaiting_callback": ("待回访", "Awaiting callback"),
    "status_closed": ("已结案", "Closed"),
    "status_withdrawn": ("已撤回", "Withdrawn"),
    "status_duplicate": ("重复案件", "Duplicate"),
    # one case
    "just_raised": ("已吹哨：案件 {case_id}。", "Raised: case {case_id}."),
    "step_done": ("已提交。", "Done."),
    "no_such_case": ("没有案件 {case_id}，或不在您的辖区内。", "No case {case_id} in your scope."),
    "where": ("地点", "Where"),
    "signs_title": ("各部门签收", "Sign-for by department"),
    "no_departments": ("尚未派单。", "Not routed yet."),
    "role_lead": ("牵头", "lead"),
    "role_supporting": ("协办", "supporting"),
    "sign_waiting": ("待签收", "waiting to sign for"),
    "sign_signed": ("已签收", "signed for"),
    "sign_disputed": ("已退单", "sent back"),
    "sign_completed": ("已完成", "done"),
    "sign_released": ("已释放", "released"),
    "sign_due": ("签收时限 {due}", "sign for by {due}"),
    "joint_action": ("集结：{at}，{place}", "Joint action: {at}, {place}"),
    "timeline_title": ("时间线", "Timeline"),
    "callback_title": ("回访", "Callback"),
    "solved": ("问题解决了吗？", "Solved?"),
    "satisfied": ("居民满意吗？", "Satisfied?"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "score": ("评分（1–5）", "Score (1–5)"),
    "comment": ("意见", "Comment"),
    "fault": ("不满意的原因在于", "If unsatisfied, whose fault"),
    "fault_none": ("无", "nobody"),
    "fault_department": ("部门", "the department"),
    "fault_requester": ("居民", "the resident"),
    "fault_external": ("外部原因", "outside causes"),
    "record_callback": ("记录回访", "Record the callback"),
    "reopen_title": ("重开", "Reopen"),
    "reopen_reason": ("重开原因", "Why reopen"),
    "reopen_button": ("重开案件", "Reopen the case"),
    "publish_title": ("晒事", "Publish"),
    "publish_summary": ("公开摘要（不含居民姓名、电话）", "Public summary (no name or phone)"),
    "publish_button": ("发布", "Publish"),
    "event_WhistleRaised": ("吹哨", "whistle raised"),
    "event_CaseRouted": ("派单", "routed"),
    "event_DepartmentAcknowledged": ("签收", "signed for"),
    "event_AssignmentDisputed": ("退单", "sent back"),
    "event_DisputeRuled": ("退单裁定", "send-back ruled"),
    "event_RequesterContacted": ("联系居民", "resident contacted"),
    "event_JointActionScheduled": ("安排集结", "joint action scheduled"),
    "event_DepartmentReportedIn": ("到场报到", "reported in"),
    "event_ProgressReported": ("进展", "progress"),
    "event_DepartmentCompleted": ("部门完成", "department done"),
    "event_CaseResolved": ("办结", "resolved"),
    "event_CallbackRecorded": ("回访", "callback"),
    "event_CaseReopened": ("重开", "reopened"),
    "event_CaseClosed": ("结案", "closed"),
    "event_CaseWithdrawn": ("撤回", "withdrawn"),
    "event_CaseMarkedDuplicate": ("标记重复", "marked duplicate"),
    "event_ExtensionRequested": ("申请延期", "extension asked"),
    "event_ExtensionGranted": ("批准延期", "extension granted"),
    "event_ExtensionRefused": ("驳回延期", "extension refused"),
    "event_ClockPaused": ("暂停计时", "clock paused"),
    "event_ClockResumed": ("恢复计时", "clock resumed"),
    "event_ClockBreached": ("超时", "deadline breached"),
    "event_CaseEscalated": ("督办升级", "escalated"),
    "event_CasePublished": ("晒事", "published"),
    # errors
    "error_title": ("无法访问", "Not allowed"),
    "page_bad_query": (
        "链接中的参数无效，请从导航重新打开页面。",
        "A value in the link is not valid; open the page again from the menu.",
    ),
    "forbidden_role": (
        "您的角色（{role}）不能访问此页面。",
        "Your role ({role}) cannot open this page.",
    ),
    "csrf_failed": (
        "表单已过期或来源不明：请返回、刷新页面后重试。",
        "The form expired or did not come from this site: go back, reload and try again.",
    ),
    "page_not_found": ("没有这个页面。", "No such page."),
    "accounts_unavailable": (
        "登录服务暂时不可用，请稍后重试。",
        "Logins are unavailable; try again later.",
    ),
}

PAGES.update(LIAISON)
PAGES.update(NOTIFY)
PAGES.update(INAPP)
PAGES.update(PUBLIC)
PAGES.update(SUPERVISOR)
PAGES.update(ADMINCONF)
PAGES.update(ADMINWEBHOOK)


def text(key: str, lang: Lang, **values: object) -> str:
    """The page message ``key`` in ``lang``, formatted with ``values``."""
    return _text(PAGES, key, lang, **values)
