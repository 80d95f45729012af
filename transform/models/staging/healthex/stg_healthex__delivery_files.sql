{#- HealthEx delivery_files, one row per (key, last_modified): the current version (newest
    read_at, then newest batch). The delivered files the tap read. is_deleted: the loader
    deleted the row. -#}
{%- set src = source('healthex', 'delivery_files') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['"key"', 'last_modified'], ['"read_at"', batched_at(src)]) }}
)

select
    cast("key" as {{ dbt.type_string() }}) as file_key,
    cast("last_modified" as {{ dbt.type_timestamp() }}) as last_modified,
    cast("project_id" as {{ dbt.type_string() }}) as project_id,
    cast("healthex_patient_id" as {{ dbt.type_string() }}) as healthex_patient_id,
    cast("retrieval_id" as {{ dbt.type_string() }}) as retrieval_id,
    cast("org_id" as {{ dbt.type_string() }}) as org_id,
    cast("external_id" as {{ dbt.type_string() }}) as external_id,
    {{ healthdata.number_column('size', dbt.type_bigint(), false) }} as size,
    cast("etag" as {{ dbt.type_string() }}) as etag,
    {{ healthdata.number_column('resource_count', dbt.type_bigint(), false) }} as resource_count,
    cast("parse_error" as {{ dbt.type_string() }}) as parse_error,
    cast("read_at" as {{ dbt.type_timestamp() }}) as read_at,
    cast(
        {{ loader_deleted(src) }}
        as boolean
    ) as is_deleted,
    cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
from current_version
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
