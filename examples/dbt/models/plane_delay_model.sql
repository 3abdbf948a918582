-- Train (route, search, select, register). Training is idempotent per arguments: a rebuild on
-- unchanged data returns the registered model instead of training again.
-- depends_on: {{ ref('plane_delay_task') }}
WITH trained AS (
    SELECT relatron_train('dbt-plane-delay',
                          family := '{{ var("relatron_family") }}',
                          time_budget := {{ var("relatron_time_budget") }}) AS summary
)
SELECT json_extract_string(summary, '$.name') AS task,
       CAST(json_extract(summary, '$.version') AS INTEGER) AS model_version,
       json_extract_string(summary, '$.family') AS family,
       json_extract_string(summary, '$.metric') AS metric,
       CAST(json_extract(summary, '$.val.auroc') AS DOUBLE) AS val_auroc,
       CAST(json_extract(summary, '$.test.auroc') AS DOUBLE) AS test_auroc,
       summary
FROM trained
