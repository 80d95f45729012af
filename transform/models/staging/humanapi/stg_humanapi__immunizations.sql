{#-
  Human API immunizations: one row per (human_id, id). `dates` (when it was given) may
  hold several doses: the first dose and the count here, and every date as a JSON
  array (dates_json, as text: read it with json_from_text) for the events (one per dose).
-#}
{%- set src = source('humanapi', 'immunizations') -%}

{% call healthdata.humanapi_staging(src) %},

with_dates as (
    select
        *,
        {#- `dates` lands as text[] in PostgreSQL and JSON in DuckDB: one JSON array on both. #}
        {%- if target.type == 'duckdb' %}
        cast(dates as json) as _dates,
        coalesce(json_array_length(dates), 0) as _dose_count
        {%- else %}
        to_jsonb(dates) as _dates,
        coalesce(jsonb_array_length(to_jsonb(dates)), 0) as _dose_count
        {%- endif %}
    from current_version
)

select
    {{ healthdata.humanapi_columns(['human_id', 'id', 'client_user_id', 'source', 'name']) }},
    cast({{ to_utc_timestamp(json_text('_dates', [0])) }} as {{ dbt.type_timestamp() }}) as first_dose_at,
    cast(_dose_count as {{ dbt.type_int() }}) as dose_count,
    cast(_dates as {{ dbt.type_string() }}) as dates_json,
    {{ healthdata.humanapi_first_code() }},
    {{ healthdata.humanapi_columns(
        ['organization_id', 'organization_name', 'created_at', 'updated_at', 'is_deleted', '_batched_at'], src
    ) }}
from with_dates
{% endcall %}
