{#- PainChek comments, the current version of each uuid (highest update_stamp, then newest
    batch). Soft deletes (is_deleted, deleted_at, or the loader's _sdc_deleted_at) are flagged
    in is_deleted. -#}
{%- set src = source('painchek', 'comments') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['uuid'], ['"update_stamp"', batched_at(src)]) }}
)

select
    cast("uuid" as {{ dbt.type_string() }}) as comment_uuid,
    cast("created_at" as {{ dbt.type_timestamp() }}) as created_at,
    cast("modified_at" as {{ dbt.type_timestamp() }}) as modified_at,
    cast("deleted_at" as {{ dbt.type_timestamp() }}) as deleted_at,
    {{ healthdata.number_column('update_stamp', dbt.type_bigint(), true) }} as update_stamp,
    cast("created_by_id" as {{ dbt.type_string() }}) as created_by_id,
    cast("modified_by_id" as {{ dbt.type_string() }}) as modified_by_id,
    cast("device_id" as {{ dbt.type_string() }}) as device_id,
    cast("license" as {{ dbt.type_string() }}) as license_uuid,
    cast("license_name" as {{ dbt.type_string() }}) as license_name,
    cast("patient" as {{ dbt.type_string() }}) as patient_uuid,
    cast("assessment" as {{ dbt.type_string() }}) as assessment_uuid,
    cast("user" as {{ dbt.type_string() }}) as user_uuid,
    cast("text" as {{ dbt.type_string() }}) as text,
    cast({{ healthdata.json_column_text('"extra_fields"') }} as {{ dbt.type_string() }}) as extra_fields,
    cast(
        coalesce("is_deleted", false) or "deleted_at" is not null
        or {{ loader_deleted(src) }}
        as boolean
    ) as is_deleted,
    cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
from current_version
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
