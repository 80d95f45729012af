{#- PainChek licenses, the current version of each uuid (highest update_stamp, then newest
    batch). Soft deletes (is_deleted, deleted_at, or the loader's _sdc_deleted_at) are flagged
    in is_deleted. -#}
{%- set src = source('painchek', 'licenses') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['uuid'], ['"update_stamp"', batched_at(src)]) }}
)

select
    cast("uuid" as {{ dbt.type_string() }}) as license_uuid,
    cast("created_at" as {{ dbt.type_timestamp() }}) as created_at,
    cast("modified_at" as {{ dbt.type_timestamp() }}) as modified_at,
    cast("deleted_at" as {{ dbt.type_timestamp() }}) as deleted_at,
    {{ healthdata.number_column('update_stamp', dbt.type_bigint(), true) }} as update_stamp,
    cast("number" as {{ dbt.type_string() }}) as number,
    cast({{ to_date('"start"') }} as date) as start_date,
    cast({{ to_date('"expiry"') }} as date) as expiry_date,
    cast("is_expiring" as boolean) as is_expiring,
    cast("type" as {{ dbt.type_string() }}) as type,
    cast({{ healthdata.json_column_text('"holder"') }} as {{ dbt.type_string() }}) as holder,
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
