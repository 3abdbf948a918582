-- The predictions as a plain table for dashboards, next to the observed labels.
-- depends_on: {{ ref('plane_delay_scored') }}
SELECT p.entity_id AS tailnum,
       p.anchor_time,
       p.prediction AS delay_probability,
       r.label AS delayed,
       p.model_version,
       p.written_at
FROM relatron_predictions('dbt-plane-delay') AS p
JOIN relatron_task_rows('dbt-plane-delay') AS r
  ON r.split = 'test' AND r.entity_id = p.entity_id AND r.anchor_time = p.anchor_time
WHERE p.split = 'test'
