{#- Human API activities, one row per (human_id, id): the current version (newest updatedAt,
    then newest batch). is_deleted: the loader deleted the row (records of users whose status is
    deleted are left to downstream models). -#}
{%- set src = source('humanapi', 'activities') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['human_id', 'id'], ['"updatedAt"', batched_at(src)]) }}
)

select
    cast("human_id" as {{ dbt.type_string() }}) as human_id,
    cast("id" as {{ dbt.type_string() }}) as id,
    cast("client_user_id" as {{ dbt.type_string() }}) as client_user_id,
    cast("humanId" as {{ dbt.type_string() }}) as record_human_id,
    cast("userId" as {{ dbt.type_string() }}) as user_id,
    cast("source" as {{ dbt.type_string() }}) as source,
    cast({{ healthdata.json_column_text('"sourceData"') }} as {{ dbt.type_string() }}) as source_data,
    cast("createdAt" as {{ dbt.type_timestamp() }}) as created_at,
    cast("updatedAt" as {{ dbt.type_timestamp() }}) as updated_at,
    cast("type" as {{ dbt.type_string() }}) as type,
    cast("startTime" as {{ dbt.type_timestamp() }}) as start_time,
    cast("endTime" as {{ dbt.type_timestamp() }}) as end_time,
    cast("tzOffset" as {{ dbt.type_string() }}) as tz_offset,
    cast("timeZone" as {{ dbt.type_string() }}) as time_zone,
    {{ healthdata.number_column('duration', 'double precision', true) }} as duration,
    {{ healthdata.number_column('distance', 'double precision', true) }} as distance,
    {{ healthdata.number_column('steps', 'double precision', true) }} as steps,
    {{ healthdata.number_column('calories', 'double precision', true) }} as calories,
    cast({{ healthdata.json_column_text('"timeSeries"') }} as {{ dbt.type_string() }}) as time_series,
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
