"""The words of the public's pages (晒事, a case's status) and of the whistle form's photos and
likely duplicates (``key: (Chinese, English)``), merged into ``messages.PAGES``."""

from __future__ import annotations

PUBLIC: dict[str, tuple[str, str]] = {
    "link_public": ("晒事公示", "Published results"),
    "public_title": ("晒事：办理结果公示", "Published results"),
    "public_intro": (
        "社区公开的案件办理结果。不显示群众姓名、电话和详细地址，照片已去除位置信息。",
        "Results the communities have published. No resident's name, phone or exact address;"
        " photos carry no location.",
    ),
    "public_all": ("全部", "All"),
    "public_filter": ("筛选", "Filter"),
    "public_empty": ("暂无公示的办理结果。", "No published results yet."),
    "public_published_on": ("{day} 公示", "published {day}"),
    "public_case_title": ("案件 {case_id} 办理进度", "Case {case_id}: status"),
    "public_raised": ("吹哨日期", "Raised on"),
    "public_resolved": ("办结日期", "Resolved on"),
    "public_published": ("公示日期", "Published on"),
    "public_result": ("办理结果", "Result"),
    "public_privacy": (
        "本页只显示公开信息：状态、类别、社区和日期；公示后另有办理结果和照片。",
        "This page shows public fields only: status, category, community and dates; once"
        " published, the result and its photos.",
    ),
    "public_no_case": ("没有案件 {case_id}。", "No case {case_id}."),
    "after_photo_alt": ("办理后照片 {n}", "After photo {n}"),
    "public_status_link": ("公开进度页", "Public status page"),
    "after_photos_label": ("办理后照片（可选，最多 9 张）", "After photos (optional, up to 9)"),
    "after_photos_hint": (
        "将随晒事公开，位置信息会被去除。",
        "Shown with the published result, without location.",
    ),
    "photo_not_found": ("没有这张照片。", "No such photo."),
    "case_photos_title": ("照片", "Photos"),
    "photo_stage_raise": ("吹哨时", "When raised"),
    "photo_stage_progress": ("办理中", "Work in progress"),
    "photo_stage_resolution": ("办结时", "Result"),
    "photo_stage_publish": ("晒事（公开，无位置信息）", "Published (public, no location)"),
    "case_photo_alt": ("{stage}照片 {n}", "{stage} photo {n}"),
    # the whistle form: photos
    "photos_label": ("照片（最多 {limit} 张）", "Photos (up to {limit})"),
    "photos_hint": (
        "JPEG、PNG 或 HEIC，最多 {limit} 张；仅案件相关方可见原图。",
        "JPEG, PNG or HEIC, up to {limit}; originals are seen by the case's parties only.",
    ),
    "photos_too_many": (
        "最多 {limit} 张照片，您选了 {count} 张。",
        "At most {limit} photos; you chose {count}.",
    ),
    "photo_refused": ("照片 {name} 未能上传：{reason}", "Photo {name} refused: {reason}"),
    "photos_unavailable": (
        "照片存储暂不可用，请稍后再试或先不附照片。",
        "Photo storage is unavailable; retry later or send without photos.",
    ),
    # the whistle form: likely duplicates
    "check_duplicates": ("查看附近是否已有人反映", "Check for existing reports"),
    "duplicates_title": ("可能是同一问题", "Possibly the same problem"),
    "duplicates_hint": (
        "填好标题或地址后，这里会显示本社区 14 天内相似的未办结案件。",
        "Once the title or address is filled in, similar open cases of the community from"
        " the last 14 days appear here.",
    ),
    "no_duplicates": ("没有发现相似的未办结案件。", "No similar open case found."),
    "dup_lead": ("{department}牵头", "lead: {department}"),
    "days_ago": ("{days} 天前", "{days} days ago"),
    "today": ("今天", "today"),
    "join_same_problem": ("这是同一个问题：并入此案", "This is the same problem: join it"),
    "join_gone": (
        "案件 {case_id} 已办结或不在您的范围内，无法并入。",
        "Case {case_id} is over or outside your scope; it cannot be joined.",
    ),
    "joined_note": ("吹哨前发现为同一问题，并入本案", "The same problem, joined before raising"),
    "joined_notice": (
        "已并入本案：您的反映记为案件 {case_id}（重复案件），群众信息随之保留。",
        "Joined: your report is kept as case {case_id} (a duplicate of this one).",
    ),
    "event_CaseMergedInto": ("并入其他案件", "Merged into another case"),
    "event_DuplicateMerged": ("合并重复案件", "Duplicate merged"),
    "event_PhotosAttached": ("附图", "Photos attached"),
}
