{#-
  FHIR Procedure resources: one row per (project_id, healthex_patient_id,
  resource_id), the current version (newest meta.lastUpdated, then newest batch).
-#}
{%- set src = source('healthex', 'procedure') %}
{#- FHIR dateTime may be partial ("2019", "2019-04"): read as its first day. -#}
{%- set partial = "(case when length(@) = 4 then @ || '-01-01' when length(@) = 7 then @ || '-01' else @ end)" %}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['project_id', 'healthex_patient_id', 'id'], ['meta_last_updated', batched_at(src)]) }}
),

source_rows as (
    select
        current_version.*,
        {{ loader_deleted(src) }} as is_loader_deleted,
        cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
    from current_version
),

withdrawn as (
    select distinct patient_id, is_withdrawn_everywhere
    from {{ ref('stg_healthex__identified_patients') }}
),

renamed as (
    select
        cast(s.project_id as {{ dbt.type_string() }}) as project_id,
        cast(s.healthex_patient_id as {{ dbt.type_string() }}) as healthex_patient_id,
        cast(s.id as {{ dbt.type_string() }}) as resource_id,
        cast(s.retrieval_id as {{ dbt.type_string() }}) as retrieval_id,
        cast(lower(coalesce({{ json_text('s.resource', ['status']) }}, s.status)) as {{ dbt.type_string() }}) as status,
        cast(coalesce(s.code, {{ json_text('s.resource', ['code', 'coding', 0, 'code']) }}) as {{ dbt.type_string() }}) as code,
        cast(coalesce(s.code_system, {{ json_text('s.resource', ['code', 'coding', 0, 'system']) }}) as {{ dbt.type_string() }}) as code_system_uri,
        cast({{ code_system_name("coalesce(s.code_system, " ~ json_text('s.resource', ['code', 'coding', 0, 'system']) ~ ")") }} as {{ dbt.type_string() }}) as code_system,
        cast(coalesce(
            s.display,
            {{ json_text('s.resource', ['code', 'coding', 0, 'display']) }},
            {{ json_text('s.resource', ['code', 'text']) }}
        ) as {{ dbt.type_string() }}) as display,
        {{ to_utc_timestamp(partial | replace('@', "coalesce(" ~ json_text('s.resource', ['performedDateTime']) ~ ", " ~ json_text('s.resource', ['performedPeriod', 'start']) ~ ")")) }} as performed_at,
        {{ to_utc_timestamp(partial | replace('@', json_text('s.resource', ['performedPeriod', 'end']))) }} as performed_end_at,
        cast({{ json_text('s.resource', ['encounter', 'reference']) }} as {{ dbt.type_string() }}) as encounter_reference,
        cast(s.meta_last_updated as {{ dbt.type_timestamp() }}) as meta_last_updated,
        s.is_loader_deleted,
        s._batched_at
    from source_rows as s
)

select
    renamed.project_id,
    renamed.healthex_patient_id,
    renamed.resource_id,
    renamed.retrieval_id,
    renamed.status,
    renamed.code,
    renamed.code_system_uri,
    renamed.code_system,
    renamed.display,
    renamed.performed_at,
    renamed.performed_end_at,
    renamed.encounter_reference,
    cast(regexp_replace(renamed.encounter_reference, '^(.*/|urn:uuid:)', '') as {{ dbt.type_string() }}) as encounter_id,
    renamed.meta_last_updated,
    cast(coalesce(withdrawn.is_withdrawn_everywhere, false) as boolean) as is_patient_withdrawn,
    cast(renamed.is_loader_deleted as boolean) as is_loader_deleted,
    cast(
        renamed.is_loader_deleted
        or coalesce(withdrawn.is_withdrawn_everywhere, false)
        or coalesce(renamed.status = 'entered-in-error', false)
        as boolean
    ) as is_deleted,
    renamed._batched_at
from renamed
left join withdrawn
    on withdrawn.patient_id = renamed.healthex_patient_id
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
