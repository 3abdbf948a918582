-- A delay probability lies in [0, 1].
SELECT * FROM {{ ref('plane_delay_predictions') }}
WHERE delay_probability < 0 OR delay_probability > 1 OR isnan(delay_probability)
