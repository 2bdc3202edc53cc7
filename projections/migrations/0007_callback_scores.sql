-- 回访 scores (1–5) in the metrics: each callback row keeps its score, and the daily roll-ups
-- carry the sum and the number of scored callbacks, so the average over any range of days is
-- exact (sum of sums ÷ sum of counts; projections/metrics.py). Rows projected before this
-- migration get their score from the timeline's CallbackRecorded body; the roll-ups are
-- refilled. New columns go last: metric_facts and the session work tables built LIKE it and
-- LIKE metric_days keep their order, and apply_metric_delta below is 0006's with the two sums.

ALTER TABLE callbacks ADD COLUMN score smallint;
UPDATE callbacks b SET score = (e.body->>'score')::smallint
  FROM case_events e
 WHERE e.case_id = b.case_id AND e.seq = b.seq AND e.type = 'CallbackRecorded';

ALTER TABLE metric_days ADD COLUMN score_sum integer NOT NULL DEFAULT 0,
    ADD COLUMN score_count integer NOT NULL DEFAULT 0;

CREATE OR REPLACE VIEW metric_facts AS
SELECT a.case_id, a.raised_at, a.department, a.community, a.street, a.district, a.category,
       1 AS dispatched, (a.acknowledged_in_time IS TRUE)::int AS acknowledged_in_time,
       (a.acknowledged_at IS NOT NULL)::int AS acknowledged, (a.dispute_count > 0)::int AS disputed,
       extract(epoch FROM a.acknowledged_at - a.dispatched_at)::float8 AS ack_s,
       0 AS callbacks, 0 AS solved, 0 AS satisfied,
       0 AS cases, 0 AS resolved, 0 AS reopened, NULL::float8 AS resolve_s, 0::bigint AS breaches,
       0 AS score_sum, 0 AS score_count
  FROM assignments a
UNION ALL
SELECT b.case_id, b.raised_at, b.department, b.community, b.street, b.district, b.category,
       0, 0, 0, 0, NULL, 1, (b.solved IS TRUE)::int, (b.satisfied IS TRUE)::int,
       0, 0, 0, NULL, 0, coalesce(b.score, 0)::int, (b.score IS NOT NULL)::int
  FROM callbacks b
UNION ALL
SELECT c.case_id, c.raised_at, c.lead_department, c.community, c.street, c.district, c.category,
       0, 0, 0, 0, NULL, 0, 0, 0,
       1, (c.resolved_at IS NOT NULL OR c.reopen_count > 0)::int, (c.reopen_count > 0)::int,
       extract(epoch FROM c.resolved_at - c.raised_at)::float8, 0, 0, 0
  FROM cases c
UNION ALL
SELECT k.case_id, k.raised_at, k.department, k.community, k.street, k.district, k.category,
       0, 0, 0, 0, NULL, 0, 0, 0, 0, 0, 0, NULL, k.breaches, 0, 0
  FROM clocks k
 WHERE k.breaches > 0;

-- A session's work tables made before this migration have the old columns: made again.
CREATE OR REPLACE FUNCTION metric_work_tables() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.metric_delta') IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM pg_attribute
         WHERE attrelid = to_regclass('pg_temp.metric_delta') AND attname = 'score_count') THEN
        DROP TABLE pg_temp.metric_work, pg_temp.metric_delta;
    END IF;
    IF to_regclass('pg_temp.metric_work') IS NULL THEN
        CREATE TEMP TABLE metric_work (sign integer, LIKE metric_facts);
        CREATE TEMP TABLE metric_delta (LIKE metric_days, del_ack float8[], del_resolve float8[]);
    END IF;
END
$$;

-- Add the facts of cases `ids` (NULL: every case) and take away the captured old ones.
CREATE OR REPLACE FUNCTION apply_metric_delta(ids text[]) RETURNS void LANGUAGE plpgsql AS $$
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
           sum(sign * breaches), sum(sign * score_sum), sum(sign * score_count),
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
    IF ids IS NULL THEN  -- every fact: the table is refilled, nothing to merge
        DELETE FROM metric_days;
        INSERT INTO metric_days
        SELECT day, grain, department, community, street, district, category, dispatched,
               acknowledged_in_time, acknowledged, disputed, ack_s, callbacks, solved, satisfied,
               cases, resolved, reopened, resolve_s, breaches, score_sum, score_count
          FROM metric_delta;
        DELETE FROM metric_delta;
        DELETE FROM metric_work;
        RETURN;
    END IF;
    -- Lock (or create) every roll-up row of the delta, in key order, in one statement: shards
    -- wait for each other only on the rows they share, never deadlock, and only from here on
    -- (the facts and their aggregation above took no lock).
    INSERT INTO metric_days AS m
    SELECT day, grain, department, community, street, district, category,
           0, 0, 0, 0, '{}', 0, 0, 0, 0, 0, 0, '{}', 0, 0, 0
      FROM metric_delta
     ORDER BY grain, day, department, community, category
        ON CONFLICT (grain, day, department, community, category)
        DO UPDATE SET dispatched = m.dispatched;
    UPDATE metric_days m
       SET dispatched = m.dispatched + d.dispatched,
           acknowledged_in_time = m.acknowledged_in_time + d.acknowledged_in_time,
           acknowledged = m.acknowledged + d.acknowledged, disputed = m.disputed + d.disputed,
           ack_s = merge_sorted(m.ack_s, d.del_ack, d.ack_s),
           callbacks = m.callbacks + d.callbacks, solved = m.solved + d.solved,
           satisfied = m.satisfied + d.satisfied, cases = m.cases + d.cases,
           resolved = m.resolved + d.resolved, reopened = m.reopened + d.reopened,
           resolve_s = merge_sorted(m.resolve_s, d.del_resolve, d.resolve_s),
           breaches = m.breaches + d.breaches,
           score_sum = m.score_sum + d.score_sum, score_count = m.score_count + d.score_count
      FROM metric_delta d
     WHERE (m.grain, m.day, m.department, m.community, m.category)
         = (d.grain, d.day, d.department, d.community, d.category);
    DELETE FROM metric_days m USING metric_delta d
     WHERE (m.grain, m.day, m.department, m.community, m.category)
         = (d.grain, d.day, d.department, d.community, d.category)
       AND m.dispatched = 0 AND m.callbacks = 0 AND m.cases = 0 AND m.breaches = 0;
    DELETE FROM metric_delta;
    DELETE FROM metric_work;
END
$$;


SELECT apply_metric_delta(NULL);
