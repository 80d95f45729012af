{#- Human API user_sync_status, one row per (human_id): the current version (newest checked_at,
    synched_at, then newest batch). The tap's record of its last sync of each user. is_deleted:
    the loader deleted the row (records of users whose status is deleted are left to downstream
    models). -#}
{%- set src = source('humanapi', 'user_sync_status') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['human_id'], ['"checked_at"', '"synched_at"', batched_at(src)]) }}
)

select
    cast("human_id" as {{ dbt.type_string() }}) as human_id,
    cast("client_user_id" as {{ dbt.type_string() }}) as client_user_id,
    cast("checked_at" as {{ dbt.type_timestamp() }}) as checked_at,
    cast("outcome" as {{ dbt.type_string() }}) as outcome,
    cast("detail" as {{ dbt.type_string() }}) as detail,
    cast("synched_at" as {{ dbt.type_timestamp() }}) as synched_at,
    cast(
        {{ loader_deleted(src) }}
        as boolean
    ) as is_deleted,
    cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
from current_version
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
