-- The trained model ranks delayed planes above on-time ones better than a coin would.
SELECT * FROM {{ ref('plane_delay_model') }} WHERE test_auroc <= 0.5
