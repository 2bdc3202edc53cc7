-- Daily roll-ups of the metrics (projections/metrics.py has the definitions): per Shanghai day
-- of the cohort (raised_at) and per grain, the exact counts and the sorted durations whose
-- median and p90 the dashboard shows. Grains (their key columns; the other keys are ''):
--   department             department
--   community              community (+ its street and district, for area filters)
--   category               category
--   department_community   department, community (+ street, district)
--   category_community     category, community (+ street, district)
-- A fact whose grain key is NULL is left out of that grain (metrics never show a NULL group).
-- "department" is the one each figure counts for: the assignment's, the callback's (lead at
-- the callback), the case's lead department, the clock's.
--
-- Maintenance, in the projector's batch transaction: before a batch deletes the rows of the
-- cases it rewrites, their facts are kept aside (capture_metric_facts); after it writes the new
-- rows, apply_metric_delta adds the new facts and takes the old ones away (counts by sum,
-- durations by multiset difference and union; rows left with no fact are deleted). Rebuilds
-- pass NULL: every fact, into an empty table. Either way the rows are what the base tables
-- say, which `projections check` verifies.

-- One row per figure-bearing row of the base tables, with its cohort and where/what.
CREATE VIEW metric_facts AS
SELECT a.case_id, a.raised_at, a.department, a.community, a.street, a.district, a.category,
       1 AS dispatched, (a.acknowledged_in_time IS TRUE)::int AS acknowledged_in_time,
       (a.acknowledged_at IS NOT NULL)::int AS acknowledged, (a.dispute_count > 0)::int AS disputed,
       extract(epoch FROM a.acknowledged_at - a.dispatched_at)::float8 AS ack_s,
       0 AS callbacks, 0 AS solved, 0 AS satisfied,
       0 AS cases, 0 AS resolved, 0 AS reopened, NULL::float8 AS resolve_s, 0::bigint AS breaches
  FROM assignments a
UNION ALL
SELECT b.case_id, b.raised_at, b.department, b.community, b.street, b.district, b.category,
       0, 0, 0, 0, NULL, 1, (b.solved IS TRUE)::int, (b.satisfied IS TRUE)::int,
       0, 0, 0, NULL, 0
  FROM callbacks b
UNION ALL
SELECT c.case_id, c.raised_at, c.lead_department, c.community, c.street, c.district, c.category,
       0, 0, 0, 0, NULL, 0, 0, 0,
       1, (c.resolved_at IS NOT NULL OR c.reopen_count > 0)::int, (c.reopen_count > 0)::int,
       extract(epoch FROM c.resolved_at - c.raised_at)::float8, 0
  FROM cases c
UNION ALL
SELECT k.case_id, k.raised_at, k.department, k.community, k.street, k.district, k.category,
       0, 0, 0, 0, NULL, 0, 0, 0, 0, 0, 0, NULL, k.breaches
  FROM clocks k
 WHERE k.breaches > 0;

CREATE TABLE metric_days (
    day                  date NOT NULL,
    grain                text NOT NULL,
    department           text NOT NULL,
    community            text NOT NULL,
    street               text,
    district             text,
    category             text NOT NULL,
    dispatched           integer NOT NULL,
    acknowledged_in_time integer NOT NULL,
    acknowledged         integer NOT NULL,
    disputed             integer NOT NULL,
    ack_s                double precision[] NOT NULL,   -- acknowledged_at − dispatched_at, sorted
    callbacks            integer NOT NULL,
    solved               integer NOT NULL,
    satisfied            integer NOT NULL,
    cases                integer NOT NULL,
    resolved             integer NOT NULL,
    reopened             integer NOT NULL,
    resolve_s            double precision[] NOT NULL,   -- resolved_at − raised_at, sorted
    breaches             bigint NOT NULL,
    PRIMARY KEY (grain, day, department, community, category)
);

-- (cur minus del, as multisets) plus add, sorted.
CREATE FUNCTION merge_sorted(cur float8[], del float8[], add float8[]) RETURNS float8[]
LANGUAGE sql IMMUTABLE AS $$
SELECT coalesce(array_agg(x ORDER BY x), '{}')
  FROM ((SELECT unnest(cur) EXCEPT ALL SELECT unnest(del)) UNION ALL SELECT unnest(add)) u(x)
$$;

-- The session's work tables: signed facts of the batch, and the signed sums per roll-up row.
CREATE FUNCTION metric_work_tables() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.metric_work') IS NULL THEN
        CREATE TEMP TABLE metric_work (sign integer, LIKE metric_facts);
        CREATE TEMP TABLE metric_delta (LIKE metric_days, del_ack float8[], del_resolve float8[]);
    END IF;
END
$$;

-- Keep aside the facts of cases about to be rewritten (their rows are still the old ones).
CREATE FUNCTION capture_metric_facts(ids text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM metric_work_tables();
    INSERT INTO metric_work SELECT -1, * FROM metric_facts WHERE case_id = ANY(ids);
END
$$;

-- Add the facts of cases `ids` (NULL: every case) and take away the captured old ones.
CREATE FUNCTION apply_metric_delta(ids text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM metric_work_tables();
    IF ids IS NULL THEN
        INSERT INTO metric_work SELECT 1, * FROM metric_facts;
    ELSE
        INSERT INTO metric_work SELECT 1, * FROM metric_facts WHERE case_id = ANY(ids);
    END IF;
    INSERT INTO metric_delta
    SELECT day,
           CASE grouping(department, community, category)
                WHEN 3 THEN 'department' WHEN 5 THEN 'community' WHEN 6 THEN 'category'
                WHEN 1 THEN 'department_community' ELSE 'category_community' END,
           CASE WHEN grouping(department) = 0 THEN department ELSE '' END,
           CASE WHEN grouping(community) = 0 THEN community ELSE '' END,
           street, district,
           CASE WHEN grouping(category) = 0 THEN category ELSE '' END,
           sum(sign * dispatched), sum(sign * acknowledged_in_time), sum(sign * acknowledged),
           sum(sign * disputed),
           coalesce(array_agg(ack_s ORDER BY ack_s) FILTER (WHERE sign > 0 AND ack_s IS NOT NULL),
                    '{}'),
           sum(sign * callbacks), sum(sign * solved), sum(sign * satisfied),
           sum(sign * cases), sum(sign * resolved), sum(sign * reopened),
           coalesce(array_agg(resolve_s ORDER BY resolve_s)
                        FILTER (WHERE sign > 0 AND resolve_s IS NOT NULL), '{}'),
           sum(sign * breaches),
           coalesce(array_agg(ack_s) FILTER (WHERE sign < 0 AND ack_s IS NOT NULL), '{}'),
           coalesce(array_agg(resolve_s) FILTER (WHERE sign < 0 AND resolve_s IS NOT NULL), '{}')
      FROM (SELECT (raised_at AT TIME ZONE 'Asia/Shanghai')::date AS day, *
              FROM metric_work WHERE raised_at IS NOT NULL) f
     GROUP BY GROUPING SETS ((day, department), (day, community, street, district),
                             (day, category), (day, department, community, street, district),
                             (day, category, community, street, district))
    HAVING (grouping(department) = 1 OR department IS NOT NULL)
       AND (grouping(community) = 1 OR community IS NOT NULL)
       AND (grouping(category) = 1 OR category IS NOT NULL)
     ORDER BY 2, 1, 3, 4, 7;
    UPDATE metric_days m
       SET dispatched = m.dispatched + d.dispatched,
           acknowledged_in_time = m.acknowledged_in_time + d.acknowledged_in_time,
           acknowledged = m.acknowledged + d.acknowledged, disputed = m.disputed + d.disputed,
           ack_s = merge_sorted(m.ack_s, d.del_ack, d.ack_s),
           callbacks = m.callbacks + d.callbacks, solved = m.solved + d.solved,
           satisfied = m.satisfied + d.satisfied, cases = m.cases + d.cases,
           resolved = m.resolved + d.resolved, reopened = m.reopened + d.reopened,
           resolve_s = merge_sorted(m.resolve_s, d.del_resolve, d.resolve_s),
           breaches = m.breaches + d.breaches
      FROM metric_delta d
     WHERE (m.grain, m.day, m.department, m.community, m.category)
         = (d.grain, d.day, d.department, d.community, d.category);
    INSERT INTO metric_days
    SELECT day, grain, department, community, street, district, category, dispatched,
           acknowledged_in_time, acknowledged, disputed, ack_s, callbacks, solved, satisfied,
           cases, resolved, reopened, resolve_s, breaches
      FROM metric_delta d
     WHERE NOT EXISTS (SELECT 1 FROM metric_days m
                        WHERE (m.grain, m.day, m.department, m.community, m.category)
                            = (d.grain, d.day, d.department, d.community, d.category));
    DELETE FROM metric_days m USING metric_delta d
     WHERE (m.grain, m.day, m.department, m.community, m.category)
         = (d.grain, d.day, d.department, d.community, d.category)
       AND m.dispatched = 0 AND m.callbacks = 0 AND m.cases = 0 AND m.breaches = 0;
    DELETE FROM metric_delta;
    DELETE FROM metric_work;
END
$$;

SELECT apply_metric_delta(NULL);
