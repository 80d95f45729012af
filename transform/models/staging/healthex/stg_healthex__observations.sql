{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['project_id', 'healthex_patient_id', 'resource_id'],
) }}
{#-
  FHIR Observation resources: one row per (project_id, healthex_patient_id,
  resource_id), the current version (newest meta.lastUpdated, then newest batch).
  Incremental: rebuilds the rows loaded since the last build, and every row of a
  patient whose withdrawal (is_patient_withdrawn) changed since it was built.
-#}
{%- set src = source('healthex', 'observation') %}
{#- FHIR dateTime may be partial ("2019", "2019-04"): read as its first day. -#}
{%- set partial = "(case when length(@) = 4 then @ || '-01-01' when length(@) = 7 then @ || '-01' else @ end)" %}
{%- set observation_category = 'http://terminology.hl7.org/CodeSystem/observation-category' %}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['project_id', 'healthex_patient_id', 'id'], ['meta_last_updated', batched_at(src)]) }}
),

withdrawn as (
    select distinct patient_id, is_withdrawn_everywhere
    from {{ ref('stg_healthex__identified_patients') }}
),

{% if is_incremental() %}
-- patients whose withdrawal changed after their rows were built: rebuild them all
changed_patients as (
    select distinct built.healthex_patient_id
    from {{ this }} as built
    left join withdrawn on withdrawn.patient_id = built.healthex_patient_id
    where built.is_patient_withdrawn <> coalesce(withdrawn.is_withdrawn_everywhere, false)
),
{% endif %}

source_rows as (
    select
        current_version.*,
        {{ loader_deleted(src) }} as is_loader_deleted,
        cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
    from current_version
),

to_build as (
    select *
    from source_rows
    {{ loaded_since_last_build('_batched_at') }}
    {%- if is_incremental() %}
       or healthex_patient_id in (select healthex_patient_id from changed_patients)
    {%- endif %}
),

-- the observation's category: the first coding from the standard category system
-- (vital-signs, laboratory, survey, social-history, ...), else the first coding given
categories as (
    select project_id, healthex_patient_id, id, category_code, category_system
    from (
        select
            b.project_id,
            b.healthex_patient_id,
            b.id,
            {{ json_text('coding.elem', ['code']) }} as category_code,
            {{ json_text('coding.elem', ['system']) }} as category_system,
            row_number() over (
                partition by b.project_id, b.healthex_patient_id, b.id
                order by
                    case when {{ json_text('coding.elem', ['system']) }} = '{{ observation_category }}' then 0 else 1 end,
                    category.idx,
                    coding.idx
            ) as position
        from to_build as b
        {{ explode_json_array(json_get('b.resource', ['category']), 'category') }}
        {{ explode_json_array(json_get('category.elem', ['coding']), 'coding') }}
        where {{ json_text('coding.elem', ['code']) }} is not null
    ) as ranked
    where position = 1
),

renamed as (
    select
        cast(b.project_id as {{ dbt.type_string() }}) as project_id,
        cast(b.healthex_patient_id as {{ dbt.type_string() }}) as healthex_patient_id,
        cast(b.id as {{ dbt.type_string() }}) as resource_id,
        cast(b.retrieval_id as {{ dbt.type_string() }}) as retrieval_id,
        cast(lower(coalesce(b.status, {{ json_text('b.resource', ['status']) }})) as {{ dbt.type_string() }}) as status,
        cast(lower(categories.category_code) as {{ dbt.type_string() }}) as category_code,
        cast(categories.category_system as {{ dbt.type_string() }}) as category_system,
        cast(coalesce(b.code, {{ json_text('b.resource', ['code', 'coding', 0, 'code']) }}) as {{ dbt.type_string() }}) as code,
        cast(coalesce(b.code_system, {{ json_text('b.resource', ['code', 'coding', 0, 'system']) }}) as {{ dbt.type_string() }}) as code_system_uri,
        cast({{ code_system_name("coalesce(b.code_system, " ~ json_text('b.resource', ['code', 'coding', 0, 'system']) ~ ")") }} as {{ dbt.type_string() }}) as code_system,
        cast(coalesce(
            b.display,
            {{ json_text('b.resource', ['code', 'coding', 0, 'display']) }},
            {{ json_text('b.resource', ['code', 'text']) }}
        ) as {{ dbt.type_string() }}) as display,
        cast(coalesce(
            cast(b.value as double precision),
            {{ safe_number(json_text('b.resource', ['valueQuantity', 'value'])) }},
            {{ safe_number(json_text('b.resource', ['valueInteger'])) }}
        ) as double precision) as value_number,
        cast(coalesce(
            b.unit,
            {{ json_text('b.resource', ['valueQuantity', 'unit']) }},
            {{ json_text('b.resource', ['valueQuantity', 'code']) }}
        ) as {{ dbt.type_string() }}) as unit,
        cast(coalesce(
            {{ json_text('b.resource', ['valueString']) }},
            {{ json_text('b.resource', ['valueCodeableConcept', 'text']) }},
            {{ json_text('b.resource', ['valueCodeableConcept', 'coding', 0, 'display']) }},
            {{ json_text('b.resource', ['valueBoolean']) }},
            {{ json_text('b.resource', ['valueDateTime']) }},
            {{ json_text('b.resource', ['valueQuantity', 'comparator']) }}
                || {{ json_text('b.resource', ['valueQuantity', 'value']) }}
        ) as {{ dbt.type_string() }}) as value_text,
        cast({{ json_text('b.resource', ['valueCodeableConcept', 'coding', 0, 'code']) }} as {{ dbt.type_string() }}) as value_code,
        {{ to_utc_timestamp(partial | replace('@', "coalesce(" ~ json_text('b.resource', ['effectiveDateTime']) ~ ", " ~ json_text('b.resource', ['effectivePeriod', 'start']) ~ ", " ~ json_text('b.resource', ['effectiveInstant']) ~ ", b.effective)")) }} as effective_at,
        {{ to_utc_timestamp(partial | replace('@', json_text('b.resource', ['effectivePeriod', 'end']))) }} as effective_end_at,
        {{ to_utc_timestamp(json_text('b.resource', ['issued'])) }} as issued_at,
        cast({{ json_text('b.resource', ['referenceRange', 0, 'low', 'value']) }} as {{ dbt.type_string() }}) as reference_range_low,
        cast({{ json_text('b.resource', ['referenceRange', 0, 'high', 'value']) }} as {{ dbt.type_string() }}) as reference_range_high,
        cast({{ json_text('b.resource', ['referenceRange', 0, 'text']) }} as {{ dbt.type_string() }}) as reference_range_text,
        cast({{ json_text('b.resource', ['encounter', 'reference']) }} as {{ dbt.type_string() }}) as encounter_reference,
        cast(b.meta_last_updated as {{ dbt.type_timestamp() }}) as meta_last_updated,
        b.is_loader_deleted,
        b._batched_at
    from to_build as b
    left join categories
        on categories.project_id = b.project_id
        and categories.healthex_patient_id = b.healthex_patient_id
        and categories.id = b.id
)

select
    renamed.project_id,
    renamed.healthex_patient_id,
    renamed.resource_id,
    renamed.retrieval_id,
    renamed.status,
    renamed.category_code,
    renamed.category_system,
    renamed.code,
    renamed.code_system_uri,
    renamed.code_system,
    renamed.display,
    renamed.value_number,
    renamed.unit,
    renamed.value_text,
    renamed.value_code,
    renamed.effective_at,
    renamed.effective_end_at,
    renamed.issued_at,
    renamed.reference_range_low,
    renamed.reference_range_high,
    renamed.reference_range_text,
    renamed.encounter_reference,
    cast(
        {{ "regexp_replace(renamed.encounter_reference, '^(.*/|urn:uuid:)', '')" }}
        as {{ dbt.type_string() }}
    ) as encounter_id,
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
