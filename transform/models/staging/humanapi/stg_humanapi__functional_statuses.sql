{#- Human API functional_statuses, one row per (human_id, id): the current version (newest
    updatedAt, then newest batch). is_deleted: the loader deleted the row (records of users
    whose status is deleted are left to downstream models). -#}
{%- set src = source('humanapi', 'functional_statuses') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['human_id', 'id'], ['"updatedAt"', batched_at(src)]) }}
)

select
    cast("human_id" as {{ dbt.type_string() }}) as human_id,
    cast("id" as {{ dbt.type_string() }}) as id,
    cast("client_user_id" as {{ dbt.type_string() }}) as client_user_id,
    cast("source" as {{ dbt.type_string() }}) as source,
    cast("name" as {{ dbt.type_string() }}) as name,
    cast({{ to_utc_timestamp('"dateTime"') }} as {{ dbt.type_timestamp() }}) as date_time,
    cast("dateTime" as {{ dbt.type_string() }}) as date_time_raw,
    cast({{ healthdata.json_column_text('"codes"') }} as {{ dbt.type_string() }}) as codes,
    cast({{ healthdata.json_column_text('"organization"') }} as {{ dbt.type_string() }}) as organization,
    cast({{ healthdata.json_column_text('"ccd"') }} as {{ dbt.type_string() }}) as ccd,
    cast("createdAt" as {{ dbt.type_timestamp() }}) as created_at,
    cast("updatedAt" as {{ dbt.type_timestamp() }}) as updated_at,
    cast({{ healthdata.json_column_text('"extra_fields"') }} as {{ dbt.type_string() }}) as extra_fields,
    cast(
        {{ loader_deleted(src) }}
        as boolean
    ) as is_deleted,
    cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
from current_version
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
