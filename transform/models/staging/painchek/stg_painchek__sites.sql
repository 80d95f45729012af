{#- PainChek sites, the current version of each uuid (highest update_stamp, then newest batch).
    Soft deletes (is_deleted, deleted_at, or the loader's _sdc_deleted_at) are flagged in
    is_deleted. -#}
{%- set src = source('painchek', 'sites') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['uuid'], ['"update_stamp"', batched_at(src)]) }}
)

select
    cast("uuid" as {{ dbt.type_string() }}) as site_uuid,
    cast("created_at" as {{ dbt.type_timestamp() }}) as created_at,
    cast("modified_at" as {{ dbt.type_timestamp() }}) as modified_at,
    cast("deleted_at" as {{ dbt.type_timestamp() }}) as deleted_at,
    {{ healthdata.number_column('update_stamp', dbt.type_bigint(), true) }} as update_stamp,
    cast("created_by_id" as {{ dbt.type_string() }}) as created_by_id,
    cast("modified_by_id" as {{ dbt.type_string() }}) as modified_by_id,
    cast("device_id" as {{ dbt.type_string() }}) as device_id,
    cast("license" as {{ dbt.type_string() }}) as license_uuid,
    cast("license_name" as {{ dbt.type_string() }}) as license_name,
    {{ healthdata.number_column('type', dbt.type_bigint(), true) }} as type,
    cast("name" as {{ dbt.type_string() }}) as name,
    cast("phone" as {{ dbt.type_string() }}) as phone,
    cast("email" as {{ dbt.type_string() }}) as email,
    cast("address" as {{ dbt.type_string() }}) as address,
    cast("postcode" as {{ dbt.type_string() }}) as postcode,
    cast("city" as {{ dbt.type_string() }}) as city,
    cast("state" as {{ dbt.type_string() }}) as state,
    cast("country" as {{ dbt.type_string() }}) as country,
    {{ healthdata.number_column('num_beds', dbt.type_bigint(), true) }} as num_beds,
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
