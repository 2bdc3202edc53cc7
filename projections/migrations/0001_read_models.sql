-- Read models of the case event log. Applied with search_path set to the target schema
-- (live: "projection"; rebuild: a fresh schema swapped in afterwards), so names are unqualified.
-- Never edit this file once landed: add 0002_… instead (the checksum is recorded).

-- Current state of every case, one row per case. applied_seq: the last per-case seq applied.
CREATE TABLE cases (
    case_id          text PRIMARY KEY,
    applied_seq      integer NOT NULL DEFAULT 0,
    last_event_id    text,
    status           text NOT NULL DEFAULT 'raised',
    title            text,
    category         text,
    urgency          text,
    channel          text,
    area             text,          -- the most precise area code (community, compound or grid)
    district         text,          -- area code prefixes: district, district.street, …community
    street           text,
    community        text,
    raised_at        timestamptz,
    raised_by        text,
    lead_department  text,
    departments      text[] NOT NULL DEFAULT '{}',   -- active assignments, lead first
    routed_at        timestamptz,
    first_contact_at timestamptz,
    joint_action_at  timestamptz,
    resolved_at      timestamptz,
    resolution       text,
    closed_at        timestamptz,   -- closed, withdrawn or marked duplicate
    final_reason     text,
    duplicate_of     text,
    reopen_count     integer NOT NULL DEFAULT 0,
    callback_count   integer NOT NULL DEFAULT 0,
    last_solved      boolean,
    last_satisfied   boolean,
    escalation_tier  text,
    escalation_step  text,
    escalated_at     timestamptz,
    published_at     timestamptz,
    breach_count     integer NOT NULL DEFAULT 0,
    updated_at       timestamptz
);
CREATE INDEX cases_raised_at ON cases (raised_at);
CREATE INDEX cases_community ON cases (community, raised_at);
CREATE INDEX cases_open ON cases (status) WHERE status NOT IN ('closed', 'withdrawn', 'duplicate');

-- case × department: 首接负责 lead or supporting, 签收 acknowledgement, 退单 disputes, 办结.
CREATE TABLE assignments (
    case_id              text NOT NULL,
    department           text NOT NULL,
    role                 text,
    active               boolean NOT NULL DEFAULT true,
    dispatched_at        timestamptz,
    ack_due_at           timestamptz,
    acknowledged_at      timestamptz,
    acknowledged_in_time boolean,
    disputed             boolean NOT NULL DEFAULT false,
    dispute_count        integer NOT NULL DEFAULT 0,
    completed_at         timestamptz,
    released_at          timestamptz,
    breached             boolean NOT NULL DEFAULT false,
    PRIMARY KEY (case_id, department)
);
CREATE INDEX assignments_department ON assignments (department, dispatched_at);
CREATE INDEX assignments_dispatched ON assignments (dispatched_at);

-- SLA clocks: ack (per department), contact, joint_action, resolve (department '' = whole case).
CREATE TABLE clocks (
    case_id        text NOT NULL,
    clock          text NOT NULL,
    department     text NOT NULL DEFAULT '',
    mode           text,
    started_at     timestamptz,
    due_at         timestamptz,
    paused_at      timestamptz,
    paused_seconds double precision NOT NULL DEFAULT 0,
    stopped_at     timestamptz,
    breached_at    timestamptz,      -- cleared when an extension is granted
    breaches       integer NOT NULL DEFAULT 0,
    status         text NOT NULL DEFAULT 'running',  -- running | paused | met | released | stopped
    PRIMARY KEY (case_id, clock, department)
);
CREATE INDEX clocks_breached ON clocks (breached_at) WHERE breached_at IS NOT NULL;
CREATE INDEX clocks_running_due ON clocks (due_at) WHERE status IN ('running', 'paused');

-- 退单: one row per dispute (key: the seq of the AssignmentDisputed event).
CREATE TABLE disputes (
    case_id       text NOT NULL,
    seq           integer NOT NULL,
    department    text,
    reason        text,
    note          text,
    raised_at     timestamptz,
    raised_by     text,
    status        text NOT NULL DEFAULT 'awaiting',   -- awaiting | ruled
    outcome       text,
    reassigned_to text,
    ruled_at      timestamptz,
    ruled_by      text,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX disputes_awaiting ON disputes (raised_at) WHERE status = 'awaiting';

-- 延期: one row per extension request (key: the seq of the ExtensionRequested event).
CREATE TABLE extension_requests (
    case_id          text NOT NULL,
    seq              integer NOT NULL,
    department       text,
    clock            text,
    requested_due_at timestamptz,
    reason           text,
    requested_at     timestamptz,
    requested_by     text,
    status           text NOT NULL DEFAULT 'pending',  -- pending | granted | refused
    granted_due_at   timestamptz,
    decided_at       timestamptz,
    decided_by       text,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX extension_requests_pending ON extension_requests (requested_at)
    WHERE status = 'pending';

-- Escalations: 催办/督办/通报 by community/street/district.
CREATE TABLE escalations (
    case_id      text NOT NULL,
    seq          integer NOT NULL,
    tier         text,
    step         text,
    reason       text,
    escalated_at timestamptz,
    escalated_by text,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX escalations_at ON escalations (escalated_at);

-- 回访 callbacks; department: the case's lead department when the callback was made.
CREATE TABLE callbacks (
    case_id     text NOT NULL,
    seq         integer NOT NULL,
    department  text,
    solved      boolean,
    satisfied   boolean,
    fault       text,
    called_at   timestamptz,
    recorded_by text,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX callbacks_called_at ON callbacks (called_at);
CREATE INDEX callbacks_department ON callbacks (department, called_at);

-- The audit timeline: every applied event of every case, raw JSON included.
CREATE TABLE case_events (
    case_id          text NOT NULL,
    seq              integer NOT NULL,
    event_id         text NOT NULL,
    type             text NOT NULL,
    occurred_at      timestamptz NOT NULL,
    actor_user_id    text,
    actor_role       text,
    actor_department text,
    actor_area       text,
    command_id       text,
    body             jsonb NOT NULL,
    log_partition    integer,
    log_offset       bigint,
    PRIMARY KEY (case_id, seq)
);

-- The projector's position in the log, written in the same transaction as the rows.
CREATE TABLE checkpoints (
    projector      text NOT NULL,
    topic          text NOT NULL,
    partition      integer NOT NULL,
    next_offset    bigint NOT NULL DEFAULT 0,
    high_watermark bigint NOT NULL DEFAULT 0,
    last_event_at  timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projector, topic, partition)
);

-- Supervisors' board: breached clocks of cases still open, with the latest escalation.
CREATE VIEW open_breaches AS
SELECT c.case_id, k.clock, k.department, k.due_at, k.breached_at, c.status, c.category,
       c.district, c.street, c.community, c.lead_department,
       c.escalation_tier, c.escalation_step, c.escalated_at
  FROM clocks k
  JOIN cases c USING (case_id)
 WHERE k.breached_at IS NOT NULL AND k.stopped_at IS NULL
   AND c.status NOT IN ('closed', 'withdrawn', 'duplicate');
