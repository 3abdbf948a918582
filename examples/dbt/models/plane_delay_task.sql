-- The task: will a plane that flew in the last 30 days have a departure delayed by more
-- than an hour in the next 7 days? One row per split with its row count and positive rate.
-- depends_on: {{ ref('flights_data') }}
WITH defined AS (
    SELECT relatron_task(
        'dbt-plane-delay',
        entity := 'planes',
        kind := 'binary',
        horizon := INTERVAL 7 DAY,
        train_start := TIMESTAMP '2013-06-01',
        val_timestamp := TIMESTAMP '2013-10-01',
        test_timestamp := TIMESTAMP '2013-11-15',
        eval_windows := 6,
        replace := true,
        description := 'Departure delayed by more than an hour within 7 days (dbt example)',
        label_sql := $$
            WITH active AS (
                SELECT a.anchor_time, p.tailnum
                FROM relatron_anchors a JOIN planes p ON EXISTS (
                    SELECT 1 FROM flights f
                    WHERE f.tailnum = p.tailnum AND f.time <= a.anchor_time
                      AND f.time > a.anchor_time - INTERVAL 30 DAY))
            SELECT act.anchor_time, act.tailnum,
                   CAST(COALESCE(MAX(f.dep_delay > 60), false) AS INTEGER) AS label
            FROM active act JOIN relatron_anchors a USING (anchor_time)
            LEFT JOIN flights f ON f.tailnum = act.tailnum
                 AND f.time > a.anchor_time AND f.time <= a.window_end
            GROUP BY act.anchor_time, act.tailnum
        $$) AS counts
)
SELECT s.split,
       CAST(json_extract(counts, '$.' || s.split || '.rows') AS BIGINT) AS task_rows,
       CAST(json_extract(counts, '$.' || s.split || '.mean_label') AS DOUBLE) AS positive_rate
FROM defined, (VALUES ('train'), ('val'), ('test')) AS s(split)
