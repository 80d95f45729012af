{#- Human API sleeps, one row per (human_id, id): the current version (newest updatedAt, then
    newest batch). is_deleted: the loader deleted the row (records of users whose status is
    deleted are left to downstream models). -#}
{%- set src = source('humanapi', 'sleeps') -%}

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
    cast({{ to_date('"day"') }} as date) as day,
    cast("startTime" as {{ dbt.type_timestamp() }}) as start_time,
    cast("endTime" as {{ dbt.type_timestamp() }}) as end_time,
    cast("tzOffset" as {{ dbt.type_string() }}) as tz_offset,
    cast("mainSleep" as boolean) as main_sleep,
    {{ healthdata.number_column('timeAsleep', 'double precision', true) }} as time_asleep,
    {{ healthdata.number_column('timeAwake', 'double precision', true) }} as time_awake,
    {{ healthdata.number_column('efficiency', 'double precision', true) }} as efficiency,
    {{ healthdata.number_column('timeToFallAsleep', 'double precision', true) }} as time_to_fall_asleep,
    {{ healthdata.number_column('timeAfterWakeup', 'double precision', true) }} as time_after_wakeup,
    {{ healthdata.number_column('timeInBed', 'double precision', true) }} as time_in_bed,
    {{ healthdata.number_column('numberOfWakeups', 'double precision', true) }} as number_of_wakeups,
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
