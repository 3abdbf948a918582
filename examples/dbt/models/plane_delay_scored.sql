-- Score the test split into relatron.predictions (replacing earlier scores of that split).
-- depends_on: {{ ref('plane_delay_model') }}
SELECT relatron_predict('dbt-plane-delay', split := 'test') AS rows_written,
       current_timestamp AS scored_at
