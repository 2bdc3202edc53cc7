"""The notifier's migrations of the ``notify`` schema (2 on; 1, the inbox, is in ``inbox.py``).

Like the inbox, these tables are not read models: a user's contact points and preferences,
the delivery log and the notifier's own position in the event log cannot be rebuilt from the
log, and they survive a projection rebuild.
"""

from __future__ import annotations

from projections.migrate import Migration

NOTIFIER_MIGRATIONS = [
    Migration(
        2,
        "preferences_and_robots",
        """
-- Where and how a user is reached. Contact points and robot URLs/secrets are sealed (the
-- webhooks' secret box): a robot URL carries its key, an address is personal data.
CREATE TABLE notify.preferences (
    user_id        text PRIMARY KEY,
    language       text NOT NULL DEFAULT 'zh' CHECK (language IN ('zh', 'en')),
    email_sealed   text,
    phone_sealed   text,
    robot_platform text CHECK (robot_platform IN ('wecom', 'dingtalk', 'feishu')),
    robot_url_sealed    text,
    robot_secret_sealed text,
    quiet_start    time,            -- China time (UTC+8); both or neither
    quiet_end      time,
    digest         boolean NOT NULL DEFAULT false,
    channels       text[] NOT NULL DEFAULT '{wecom,dingtalk,feishu,email,sms}',
    updated_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     text NOT NULL DEFAULT '',
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL))
);
-- A group robot shared by a department's liaisons or an area's supervisors: one message per
-- notification to the group, however many of its members are told.
CREATE TABLE notify.group_robots (
    owner_kind   text NOT NULL CHECK (owner_kind IN ('department', 'area')),
    owner        text NOT NULL,
    platform     text NOT NULL CHECK (platform IN ('wecom', 'dingtalk', 'feishu')),
    url_sealed   text NOT NULL,
    secret_sealed text,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    updated_by   text NOT NULL DEFAULT '',
    PRIMARY KEY (owner_kind, owner, platform)
);
""",
    ),
    Migration(
        3,
        "deliveries",
        """
-- One row per (notification, recipient, channel): dedup_key is unique, so a replay of the
-- log or a crash of the notifier enqueues nothing twice. The shared outbox
-- (whistle.delivery.outbox) moves the rows and logs the attempts.
CREATE TABLE notify.deliveries (
    delivery_id     bigserial PRIMARY KEY,
    dedup_key       text NOT NULL UNIQUE,
    notice_key      text NOT NULL,      -- the notification to one recipient (before channels)
    event_id        text NOT NULL,
    case_id         text NOT NULL,
    kind            text NOT NULL,
    recipient       text NOT NULL,      -- a user id, or a group robot's 'department:x' / 'area:y'
    user_id         text NOT NULL,      -- the user whose preferences chose the channel
    channel         text NOT NULL,
    target_sealed   text,               -- e-mail / phone / robot URL (sealed); in-app: none
    secret_sealed   text,
    message         jsonb NOT NULL,     -- the rendered message, in the recipient's language
    urgency         text NOT NULL DEFAULT 'general',
    clock_key       text,               -- a reminder's clock: dropped when the clock is met
    digest          boolean NOT NULL DEFAULT false,
    fallback_from   bigint,             -- the dead delivery this one replaces
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'dead', 'cancelled', 'digested')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status_code integer,
    last_error      text,
    dead_reason     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    event_at        timestamptz,
    delivered_at    timestamptz
);
CREATE INDEX deliveries_due ON notify.deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_case ON notify.deliveries (case_id, clock_key) WHERE status = 'pending';
CREATE INDEX deliveries_log ON notify.deliveries (delivery_id DESC);
CREATE INDEX deliveries_user ON notify.deliveries (user_id, delivery_id DESC);
CREATE TABLE notify.attempts (
    delivery_id bigint NOT NULL REFERENCES notify.deliveries ON DELETE CASCADE,
    attempt     integer NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ms double precision NOT NULL,
    status_code integer,
    error       text,
    manual      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (delivery_id, attempt)
);
CREATE TABLE notify.checkpoints (
    consumer    text NOT NULL,
    topic       text NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (consumer, topic, partition)
);
-- What the notifier remembers of each case (whistle.notify.recipients.CaseMemo).
CREATE TABLE notify.cases (
    case_id     text PRIMARY KEY,
    memo        jsonb NOT NULL,
    applied_seq integer NOT NULL
);
""",
    ),
    Migration(
        4,
        "subscriptions",
        """
-- Which kinds of notification a user, or a department's liaisons, receive (on/off per kind;
-- whistle.notify.subscriptions). No row: the default (on). Not versioned: the latest setting
-- is the one in force, its changes are in the audit log.
CREATE TABLE notify.subscriptions (
    owner_kind text NOT NULL CHECK (owner_kind IN ('user', 'department')),
    owner      text NOT NULL,
    kind       text NOT NULL,
    enabled    boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT '',
    PRIMARY KEY (owner_kind, owner, kind)
);
""",
    ),
]
