-- PainChek patients: the current version of each (by update_stamp), soft deletes flagged.
{% if healthdata.source_exists(source('painchek', 'patients')) %}
with current_rows as (
    {{ current_rows(source('painchek', 'patients'), ['uuid'], ['update_stamp', batched_at(source('painchek', 'patients'))]) }}
)

select
    cast(uuid as {{ dbt.type_string() }}) as patient_uuid,
    cast(nullif(trim(external_id), '') as {{ dbt.type_string() }}) as external_id,
    cast(first_name as {{ dbt.type_string() }}) as first_name,
    cast(last_name as {{ dbt.type_string() }}) as last_name,
    cast(case lower(gender) when 'f' then 'female' when 'm' then 'male'
        when 'x' then 'other' else 'unknown' end as {{ dbt.type_string() }}) as sex,
    {{ to_date('birth_date') }} as birth_date,
    {{ to_date('death_date') }} as death_date,
    cast(license as {{ dbt.type_string() }}) as license_uuid,
    cast(coalesce(training_record, false) as boolean) as is_training_record,
    cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
    cast(modified_at as {{ dbt.type_timestamp() }}) as modified_at,
    cast(deleted_at as {{ dbt.type_timestamp() }}) as deleted_at,
    cast(deleted_reason as {{ dbt.type_string() }}) as deleted_reason,
    cast(
        coalesce(is_deleted, false) or deleted_at is not null
        or {{ loader_deleted(source('painchek', 'patients')) }}
        as boolean
    ) as is_deleted,
    cast(update_stamp as {{ dbt.type_bigint() }}) as update_stamp,
    cast({{ batched_at(source('painchek', 'patients')) }} as {{ dbt.type_timestamp() }}) as _batched_at
from current_rows
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
