-- Every test row of the task is scored exactly once, by the active model.
WITH expected AS (
    SELECT task_rows FROM {{ ref('plane_delay_task') }} WHERE split = 'test'
), scored AS (
    SELECT COUNT(*) AS n, COUNT(DISTINCT (tailnum, anchor_time)) AS distinct_rows,
           MIN(model_version) AS lo, MAX(model_version) AS hi
    FROM {{ ref('plane_delay_predictions') }}
), active AS (
    SELECT version FROM relatron.models WHERE name = 'dbt-plane-delay' AND active
)
SELECT * FROM expected, scored, active
WHERE scored.n <> expected.task_rows OR scored.distinct_rows <> scored.n
   OR scored.lo <> active.version OR scored.hi <> active.version
