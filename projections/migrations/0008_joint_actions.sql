-- 集结 in the read model, and where the whistle is about.
--
-- joint_action_departments: one row per department of each scheduled joint action, in the
-- order the action named them (position), with the action's time, place and note, and the
-- department's 报到 (reported_in_at: when its liaison confirmed arrival).
-- cases: the whistle's description, address and location, for the case view and the console.
-- Both are backfilled from the timeline for cases projected before this migration.

CREATE TABLE joint_action_departments (
    case_id        text NOT NULL,
    action_id      text NOT NULL,
    department     text NOT NULL,
    position       integer NOT NULL DEFAULT 0,
    at             timestamptz,
    place          text,
    note           text,
    scheduled_at   timestamptz,
    scheduled_by   text,
    reported_in_at timestamptz,
    reported_in_by text,
    PRIMARY KEY (case_id, action_id, department)
);
CREATE INDEX joint_action_departments_at ON joint_action_departments (at);

ALTER TABLE cases ADD COLUMN description text, ADD COLUMN address text,
    ADD COLUMN location_lat double precision, ADD COLUMN location_lon double precision;

UPDATE cases c SET description = e.body->>'description', address = e.body->>'address',
       location_lat = (e.body->'location'->>'lat')::double precision,
       location_lon = (e.body->'location'->>'lon')::double precision
  FROM case_events e
 WHERE e.case_id = c.case_id AND e.seq = 1 AND e.type = 'WhistleRaised';

INSERT INTO joint_action_departments
       (case_id, action_id, department, position, at, place, note, scheduled_at, scheduled_by)
SELECT e.case_id, e.body->>'action_id', d.department, d.position::integer - 1,
       (e.body->>'at')::timestamptz, e.body->>'place', nullif(e.body->>'note', ''), e.occurred_at,
       e.actor_user_id
  FROM case_events e
 CROSS JOIN LATERAL json_array_elements_text(e.body->'departments')
       WITH ORDINALITY AS d(department, position)
 WHERE e.type = 'JointActionScheduled'
ON CONFLICT DO NOTHING;
