-- Metrics read assignments, callbacks and clocks without joining cases: each row carries its
-- case's cohort (raised_at) and where/what (category, district, street, community), which never
-- change after WhistleRaised. Backfilled here for rows projected before this migration.

ALTER TABLE assignments ADD COLUMN raised_at timestamptz, ADD COLUMN category text,
    ADD COLUMN district text, ADD COLUMN street text, ADD COLUMN community text;
ALTER TABLE callbacks ADD COLUMN raised_at timestamptz, ADD COLUMN category text,
    ADD COLUMN district text, ADD COLUMN street text, ADD COLUMN community text;
ALTER TABLE clocks ADD COLUMN raised_at timestamptz, ADD COLUMN category text,
    ADD COLUMN district text, ADD COLUMN street text, ADD COLUMN community text;

UPDATE assignments t SET raised_at = c.raised_at, category = c.category, district = c.district,
       street = c.street, community = c.community
  FROM cases c WHERE c.case_id = t.case_id;
UPDATE callbacks t SET raised_at = c.raised_at, category = c.category, district = c.district,
       street = c.street, community = c.community
  FROM cases c WHERE c.case_id = t.case_id;
UPDATE clocks t SET raised_at = c.raised_at, category = c.category, district = c.district,
       street = c.street, community = c.community
  FROM cases c WHERE c.case_id = t.case_id;

CREATE INDEX assignments_cohort ON assignments (raised_at);
CREATE INDEX callbacks_cohort ON callbacks (raised_at);
CREATE INDEX clocks_cohort_breached ON clocks (raised_at) WHERE breaches > 0;
