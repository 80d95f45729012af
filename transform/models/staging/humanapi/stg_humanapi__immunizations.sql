{#-
  Human API immunizations: one row per (human_id, id). `dates` (when it was given) may
  hold several doses: the first dose and the count here, and every date as a JSON
  array (dates_json, as text: read it with json_from_text) for the events (one per dose).
-#}
{%- set src = source('humanapi', 'immunizations') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['human_id', 'id'], ['"updatedAt"', batched_at(src)]) }}
),

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
    cast(human_id as {{ dbt.type_string() }}) as human_id,
    cast(id as {{ dbt.type_string() }}) as id,
    cast(client_user_id as {{ dbt.type_string() }}) as client_user_id,
    cast(source as {{ dbt.type_string() }}) as source,
    cast(name as {{ dbt.type_string() }}) as name,
    cast({{ to_utc_timestamp(json_text('_dates', [0])) }} as {{ dbt.type_timestamp() }}) as first_dose_at,
    cast(_dose_count as {{ dbt.type_int() }}) as dose_count,
    cast(_dates as {{ dbt.type_string() }}) as dates_json,
    cast({{ json_text(array_column_element('codes'), ['code']) }} as {{ dbt.type_string() }}) as code,
    cast({{ code_system_name(
        'coalesce(' ~ json_text(array_column_element('codes'), ['codeSystemName']) ~ ', '
        ~ json_text(array_column_element('codes'), ['codeSystem']) ~ ')'
    ) }} as {{ dbt.type_string() }}) as code_system,
    cast({{ json_text(array_column_element('codes'), ['name']) }} as {{ dbt.type_string() }}) as code_display,
    cast({{ json_text('organization', ['id']) }} as {{ dbt.type_string() }}) as organization_id,
    cast({{ json_text('organization', ['name']) }} as {{ dbt.type_string() }}) as organization_name,
    cast("createdAt" as {{ dbt.type_timestamp() }}) as created_at,
    cast("updatedAt" as {{ dbt.type_timestamp() }}) as updated_at,
    cast({{ loader_deleted(src) }} as boolean) as is_deleted,
    cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
from with_dates
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
