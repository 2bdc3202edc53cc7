-- As in 0005, except how a batch's delta is merged (ids not NULL): no per-day advisory lock
-- around the whole function any more (projections/rollups.py took one, so shard processes
-- writing cases of the same days ran their roll-up maintenance one after the other). The facts
-- are gathered and aggregated without any lock; then one INSERT … ON CONFLICT, ordered by the
-- roll-up key, creates the missing rows and locks every row the delta touches, in key order
-- (concurrent shards wait only on the rows they share, and cannot deadlock); then the rows,
-- now this transaction's, are merged as before and emptied rows deleted.
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
    IF ids IS NULL THEN  -- every fact: the table is refilled, nothing to merge
        DELETE FROM metric_days;
        INSERT INTO metric_days
        SELECT day, grain, department, community, street, district, category, dispatched,
               acknowledged_in_time, acknowledged, disputed, ack_s, callbacks, solved, satisfied,
               cases, resolved, reopened, resolve_s, breaches
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
           0, 0, 0, 0, '{}', 0, 0, 0, 0, 0, 0, '{}', 0
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
           breaches = m.breaches + d.breaches
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

