-- Each escalation's department: the event's (a clock's rung names the clock's department),
-- else the case's lead department when it was escalated, else ''. The what-if reads the log as
-- it happened from the read models (whistle.whatif.live) and counts escalations by department
-- as its replay does (whistle.whatif.replay: CaseReplay._project). Rows projected before this
-- migration take the department their timeline body names, else the case's lead department
-- now (the lead at the time is in the log; a rebuild restores it exactly).
ALTER TABLE escalations ADD COLUMN department text;
UPDATE escalations x SET department = coalesce(nullif(e.body->>'department', ''), c.lead_department, '')
  FROM case_events e, cases c
 WHERE e.case_id = x.case_id AND e.seq = x.seq AND c.case_id = x.case_id;
UPDATE escalations x SET department = coalesce(c.lead_department, '')
  FROM cases c
 WHERE x.department IS NULL AND c.case_id = x.case_id;
