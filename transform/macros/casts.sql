{#- Casts that give NULL, never an error, on a value the vendor sent in another shape. -#}

{# A number from text or JSON text ("8.0", " 12 ", "1e3"); NULL for "<0.5" or "positive". #}
{% macro safe_number(expr) -%}
{{ return(adapter.dispatch('safe_number', 'healthdata')(expr)) }}
{%- endmacro %}
{% macro default__safe_number(expr) -%}
(case when trim(cast({{ expr }} as text)) ~ '^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$'
      then cast(trim(cast({{ expr }} as text)) as double precision) end)
{%- endmacro %}
{% macro duckdb__safe_number(expr) -%}
try_cast(trim(cast({{ expr }} as varchar)) as double)
{%- endmacro %}

{# A UTC timestamp (without time zone) from ISO 8601 text; NULL when not one. #}
{% macro to_utc_timestamp(expr) -%}
{{ return(adapter.dispatch('to_utc_timestamp', 'healthdata')(expr)) }}
{%- endmacro %}
{% macro default__to_utc_timestamp(expr) -%}
(case when cast({{ expr }} as text) ~ '^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$'
      then cast(cast({{ expr }} as text) as timestamptz) at time zone 'UTC' end)
{%- endmacro %}
{% macro duckdb__to_utc_timestamp(expr) -%}
(try_cast(cast({{ expr }} as varchar) as timestamptz) at time zone 'UTC')
{%- endmacro %}

{# A date from ISO 8601 text (or a date); NULL when not one. #}
{% macro to_date(expr) -%}
{{ return(adapter.dispatch('to_date', 'healthdata')(expr)) }}
{%- endmacro %}
{% macro default__to_date(expr) -%}
(case when cast({{ expr }} as text) ~ '^\d{4}-\d{2}-\d{2}' then cast(left(cast({{ expr }} as text), 10) as date) end)
{%- endmacro %}
{% macro duckdb__to_date(expr) -%}
try_cast(left(cast({{ expr }} as varchar), 10) as date)
{%- endmacro %}
