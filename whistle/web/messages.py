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
from whistle.web.liaison_messages import LIAISON

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
    # errors
    "error_title": ("无法访问", "Not allowed"),
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


def text(key: str, lang: Lang, **values: object) -> str:
    """The page message ``key`` in ``lang``, formatted with ``values``."""
    return _text(PAGES, key, lang, **values)
