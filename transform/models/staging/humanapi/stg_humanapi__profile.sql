{#- Human API profile, one row per (human_id): the current version (newest updatedAt, then
    newest batch). is_deleted: the loader deleted the row (records of users whose status is
    deleted are left to downstream models). -#}
{%- set src = source('humanapi', 'profile') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['human_id'], ['"updatedAt"', batched_at(src)]) }}
)

select
    cast("human_id" as {{ dbt.type_string() }}) as human_id,
    cast("client_user_id" as {{ dbt.type_string() }}) as client_user_id,
    cast("humanId" as {{ dbt.type_string() }}) as record_human_id,
    cast("userId" as {{ dbt.type_string() }}) as user_id,
    cast("email" as {{ dbt.type_string() }}) as email,
    cast({{ healthdata.json_column_text('"defaultTimeZone"') }} as {{ dbt.type_string() }}) as default_time_zone,
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
