{#- PainChek users, the current version of each uuid (highest update_stamp, then newest batch).
    PainChek users (nurses, carers); names, emails and phones are staff PII. Soft deletes
    (is_deleted, deleted_at, or the loader's _sdc_deleted_at) are flagged in is_deleted. -#}
{%- set src = source('painchek', 'users') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['uuid'], ['"update_stamp"', batched_at(src)]) }}
)

select
    cast("uuid" as {{ dbt.type_string() }}) as user_uuid,
    cast("created_at" as {{ dbt.type_timestamp() }}) as created_at,
    cast("modified_at" as {{ dbt.type_timestamp() }}) as modified_at,
    cast("deleted_at" as {{ dbt.type_timestamp() }}) as deleted_at,
    {{ healthdata.number_column('update_stamp', dbt.type_bigint(), true) }} as update_stamp,
    cast("created_by_id" as {{ dbt.type_string() }}) as created_by_id,
    cast("modified_by_id" as {{ dbt.type_string() }}) as modified_by_id,
    cast("device_id" as {{ dbt.type_string() }}) as device_id,
    cast("license" as {{ dbt.type_string() }}) as license_uuid,
    cast("license_name" as {{ dbt.type_string() }}) as license_name,
    cast("email" as {{ dbt.type_string() }}) as email,
    cast("first_name" as {{ dbt.type_string() }}) as first_name,
    cast("last_name" as {{ dbt.type_string() }}) as last_name,
    cast("phone" as {{ dbt.type_string() }}) as phone,
    cast("institution" as {{ dbt.type_string() }}) as institution,
    cast("institution_name" as {{ dbt.type_string() }}) as institution_name,
    cast("position" as {{ dbt.type_string() }}) as position,
    cast("avatar" as {{ dbt.type_string() }}) as avatar,
    cast("has_activated" as boolean) as has_activated,
    cast("role" as {{ dbt.type_string() }}) as role,
    cast("is_active" as boolean) as is_active,
    cast("full_site_access" as boolean) as full_site_access,
    cast("date_joined" as {{ dbt.type_timestamp() }}) as date_joined,
    cast("external_id" as {{ dbt.type_string() }}) as external_id,
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
