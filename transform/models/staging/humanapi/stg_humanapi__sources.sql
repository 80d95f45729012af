{#- Human API sources, one row per (human_id, id, source): the current version (newest
    synched_at, connectedSince, then newest batch). The data sources (portals, devices) each
    user connected. is_deleted: the loader deleted the row (records of users whose status is
    deleted are left to downstream models). -#}
{%- set src = source('humanapi', 'sources') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['human_id', 'id', 'source'], ['"synched_at"', '"connectedSince"', batched_at(src)]) }}
)

select
    cast("human_id" as {{ dbt.type_string() }}) as human_id,
    cast("id" as {{ dbt.type_string() }}) as id,
    cast("client_user_id" as {{ dbt.type_string() }}) as client_user_id,
    cast("source" as {{ dbt.type_string() }}) as source,
    cast("sourceName" as {{ dbt.type_string() }}) as source_name,
    cast("connectedSince" as {{ dbt.type_timestamp() }}) as connected_since,
    cast({{ healthdata.json_column_text('"supportedDataTypes"') }} as {{ dbt.type_string() }}) as supported_data_types,
    cast({{ healthdata.json_column_text('"devices"') }} as {{ dbt.type_string() }}) as devices,
    cast({{ healthdata.json_column_text('"organization"') }} as {{ dbt.type_string() }}) as organization,
    cast({{ healthdata.json_column_text('"historySync"') }} as {{ dbt.type_string() }}) as history_sync,
    cast({{ healthdata.json_column_text('"syncStatus"') }} as {{ dbt.type_string() }}) as sync_status_json,
    cast({{ healthdata.json_column_text('"resync"') }} as {{ dbt.type_string() }}) as resync,
    {{ healthdata.number_column('expectedSyncDuration', 'double precision', true) }} as expected_sync_duration,
    cast("externalId" as {{ dbt.type_string() }}) as external_id,
    cast("timeZone" as {{ dbt.type_string() }}) as time_zone,
    cast("synched_at" as {{ dbt.type_timestamp() }}) as synched_at,
    cast("sync_status" as {{ dbt.type_string() }}) as sync_status,
    cast("sync_details" as {{ dbt.type_string() }}) as sync_details,
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
