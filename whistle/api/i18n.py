"""Language of human-readable API text: Chinese by default, English on ``Accept-Language: en``."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]


def negotiate(accept_language: str | None) -> Lang:
    """``zh`` or ``en`` from an ``Accept-Language`` header (q-values honoured; zh on ties)."""
    if not accept_language:
        return "zh"
    best: tuple[float, int, Lang] | None = None
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        lang: Lang | None = "en" if tag.startswith("en") else "zh" if tag.startswith("zh") else None
        if lang is None or quality <= 0:
            continue
        candidate = (quality, -position, lang)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else "zh"


TITLES: dict[str, tuple[str, str]] = {
    "bad_request": ("请求无效", "Bad request"),
    "validation": ("请求内容不符合要求", "The request is not valid"),
    "unauthorized": ("未认证：需要有效的访问令牌", "Authentication required"),
    "forbidden_role": ("当前角色不能执行此操作", "Your role cannot do this"),
    "not_found": ("未找到", "Not found"),
    "method_not_allowed": ("不支持该请求方法", "Method not allowed"),
    "too_large": ("请求体过大", "Request body too large"),
    "unsupported_media_type": ("不支持的内容类型", "Unsupported media type"),
    "rejected": ("操作被拒绝", "The command was rejected"),
    "idempotency_mismatch": (
        "幂等键已用于另一个请求",
        "The Idempotency-Key was already used for a different request",
    ),
    "internal": ("服务器内部错误", "Internal server error"),
    "overloaded": ("请求过多，请稍后重试", "Too many requests in progress"),
    "unavailable": ("服务暂时不可用", "Service temporarily unavailable"),
    "config_invalid": ("配置未通过检查", "The configuration did not pass its checks"),
    "config_stale": ("配置已被他人更新", "The configuration was changed meanwhile"),
}

DETAILS: dict[str, tuple[str, str]] = {
    "unknown_service": ("没有服务代码 {code}", "No service_code {code}"),
    "secretary_key": ("api_key 须属于社区书记", "The api_key must belong to a secretary"),
    "lat_long_pair": ("lat 与 long 须同时给出或都不给", "Give both lat and long, or neither"),
    "need_place": ("请给出 lat/long 或 address_string", "Give lat/long or address_string"),
    "no_request": ("没有请求 {id}", "No request {id}"),
    "no_user": ("没有有效用户 {id}", "No active user {id}"),
    "no_endpoint": ("没有 webhook 端点 {id}", "No webhook endpoint {id}"),
    "no_notification": ("没有这条通知：{id}", "No notification {id}"),
    "no_notify_delivery": ("没有通知投递 {id}", "No notification delivery {id}"),
    "unknown_user": ("没有用户 {id}", "No user {id}"),
    "no_robot": ("{what} 没有该平台的群机器人", "{what} has no group robot on this platform"),
    "unknown_area": ("没有区域 {code}", "No area {code}"),
    "unknown_kind": ("没有通知类型 {kind}", "No notification kind {kind}"),
    "kind_fixed": (
        "{kind} 不能关闭：超时和催办、督办、通报须送达该层级的督办人员",
        "{kind} cannot be turned off: breaches and escalations must reach their tier's supervisors",
    ),
    "bad_email": ("email 不是有效的电子邮件地址", "email is not a valid e-mail address"),
    "bad_phone": (
        "phone 须为中国大陆手机号（11 位，可带 +86）",
        "phone must be a mainland China mobile number (11 digits, +86 optional)",
    ),
    "channels_repeated": ("channels 中的渠道不能重复", "channels must not repeat a channel"),
    "quiet_empty": (
        "quiet_hours 的开始与结束不能相同",
        "quiet_hours must not start and end at the same time",
    ),
    "no_delivery": ("端点 {endpoint} 没有投递 {id}", "No delivery {id} of endpoint {endpoint}"),
    "unknown_department": ("没有部门 {code}", "No department {code}"),
    "no_config_version": ("没有配置版本 {version}", "No configuration version {version}"),
    "config_invalid": (
        "配置有误，未发布：逐条见 errors",
        "Not published: the configuration has errors (each in errors)",
    ),
    "config_stale": (
        "您基于版本 {expected} 修改，但最新版本已是 {latest}：请基于最新版本重新提交",
        "You changed version {expected} but the latest is {latest}: propose again on it",
    ),
    "config_not_taken": (
        "配置版本未被采纳（{why}）：请重新提交",
        "The version was not taken ({why}): propose it again",
    ),
    "config_backdated": (
        "生效时间 {effective_from} 太早：最早 {earliest}（不可追溯生效）",
        "effective_from {effective_from} is too soon: {earliest} at the earliest (no backdating)",
    ),
    "config_no_change": ("提交的内容与最新版本相同", "The proposal changes nothing"),
    "unknown_event_types": ("未知的事件类型：{types}", "Unknown event types: {types}"),
    "missing_token": (
        "请在 Authorization 头中提供 Bearer 令牌",
        "Send 'Authorization: Bearer <token>'",
    ),
    "bad_token": ("令牌无效或已被吊销", "The token is invalid or revoked"),
    "case_not_found": ("案件不存在或不在您的权限范围内", "No such case in your scope"),
    "route_not_found": ("没有这个接口", "No such endpoint"),
    "body_unparsable": (
        "请求体无法解析：请发送 UTF-8 编码的 JSON（Open311 为表单）",
        "The body could not be parsed: send UTF-8 JSON (a form for Open311)",
    ),
    "body_too_large": ("请求体超过 {limit} 字节上限", "The body exceeds the {limit}-byte limit"),
    "empty_interval": ("until 必须晚于 since", "until must be later than since"),
    "role_cannot": ("角色 {role} 不能执行此操作", "Role {role} cannot do this"),
    "out_of_scope": ("不在您的权限范围内：{what}", "Outside your scope: {what}"),
    "need_community": ("请指定 community", "Name the community"),
    "idempotency_mismatch": (
        "同一幂等键的请求内容必须完全相同",
        "A retry must carry exactly the same body as the first request",
    ),
    "overloaded": (
        "服务繁忙：请在 {retry} 秒后重试",
        "The service is at capacity; retry in {retry} s",
    ),
    "unavailable": (
        "{what} 暂时无法访问：请在 {retry} 秒后重试",
        "{what} cannot be reached; retry in {retry} s",
    ),
    "internal": (
        "请稍后重试；如持续出现请联系管理员",
        "Retry later; tell the admin if it persists",
    ),
    "photo_empty": ("照片文件为空", "The photo file is empty"),
    "photo_too_large": (
        "照片 {size} 字节，超过 {limit} 字节上限",
        "The photo has {size} bytes, over the {limit}-byte limit",
    ),
    "photo_type": (
        "只接受 JPEG、PNG 或 HEIC 照片（按文件内容判断，不看文件名）",
        "Only JPEG, PNG or HEIC photos are accepted (told by the content, not the name)",
    ),
    "photo_unreadable": (
        "照片无法读取（{type} 文件损坏或不完整）",
        "The photo cannot be read (a damaged or truncated {type} file)",
    ),
    "photo_too_many_pixels": (
        "照片 {pixels} 像素，超过 {limit} 像素上限",
        "The photo has {pixels} pixels, over the {limit}-pixel limit",
    ),
    "photo_not_uploaded": (
        "照片 {sha256} 不是您上传的：请先上传（POST /v1/attachments）",
        "You have not uploaded photo {sha256}: upload it first (POST /v1/attachments)",
    ),
    "photo_mismatch": (
        "照片 {sha256} 的大小或类型与上传时不符",
        "The size or type given for photo {sha256} is not the uploaded one's",
    ),
    "photo_not_found": ("没有这张照片，或您无权查看", "No such photo, or not yours to see"),
    "media_url_unfetchable": (
        "无法取得 media_url 的照片（{url}：{why}）",
        "The media_url photo could not be fetched ({url}: {why})",
    ),
    "photos_unavailable": ("照片存储未配置", "The photo store is not configured"),
}

# pydantic error types → (zh, en) templates filled from the error's ``ctx``.
FIELD_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("缺少必填字段", "Field required"),
    "extra_forbidden": ("不允许的字段", "Unknown field"),
    "repeated": ("只能出现一次", "May appear only once"),
    "no_name": ("查询参数缺少名称", "A query parameter has no name"),
    "unknown_parameter": ("没有这个查询参数", "No such query parameter"),
    "string_too_short": ("至少 {min_length} 个字符", "At least {min_length} characters"),
    "string_too_long": ("最多 {max_length} 个字符", "At most {max_length} characters"),
    "string_pattern_mismatch": ("格式不符合 {pattern}", "Must match {pattern}"),
    "string_type": ("必须是字符串", "Must be a string"),
    "int_parsing": ("必须是整数", "Must be an integer"),
    "int_type": ("必须是整数", "Must be an integer"),
    "bool_parsing": ("必须是 true 或 false", "Must be true or false"),
    "bool_type": ("必须是 true 或 false", "Must be true or false"),
    "greater_than_equal": ("必须大于或等于 {ge}", "Must be at least {ge}"),
    "less_than_equal": ("必须小于或等于 {le}", "Must be at most {le}"),
    "literal_error": ("必须是以下之一：{expected}", "Must be one of {expected}"),
    "enum": ("必须是以下之一：{expected}", "Must be one of {expected}"),
    "datetime_parsing": ("必须是 ISO 8601 时间", "Must be an ISO 8601 date-time"),
    "datetime_from_date_parsing": ("必须是 ISO 8601 时间", "Must be an ISO 8601 date-time"),
    "timezone_aware": ("时间必须带时区", "The date-time must carry an offset"),
    "json_invalid": ("JSON 格式错误", "Invalid JSON"),
    "model_attributes_type": ("必须是 JSON 对象", "Must be a JSON object"),
    "dict_type": ("必须是 JSON 对象", "Must be a JSON object"),
    "too_short": ("至少 {min_length} 项", "At least {min_length} items"),
    "too_long": ("最多 {max_length} 项", "At most {max_length} items"),
    "value_error": ("{error}", "{error}"),
    "draft_empty": (
        "请至少填写标题、描述、地址或位置之一",
        "Give a title, a description, an address or a location",
    ),
    "address_or_location": (
        "请填写地址或位置（或两者）",
        "Give an address or a location (or both)",
    ),
    "reassign_target": (
        "改派时须给出 new_department，且仅在改派时给出",
        "new_department is required for reassign and only for reassign",
    ),
    "naive_datetime": ("时间须带时区（如 +08:00）", "A time must carry its offset (e.g. +08:00)"),
}


def text(table: dict[str, tuple[str, str]], key: str, lang: Lang, **values: object) -> str:
    """The message ``key`` of ``table`` in ``lang``, formatted with ``values``."""
    zh, en = table[key]
    template = en if lang == "en" else zh
    try:
        return template.format(**values)
    except (KeyError, IndexError):
        return template
