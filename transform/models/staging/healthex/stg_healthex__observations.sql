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
  The shared scaffolding and columns: macros/fhir_staging.sql.
-#}
{%- set observation_category = 'http://terminology.hl7.org/CodeSystem/observation-category' %}

{%- set ctes %}
{%- if is_incremental() %}
-- patients whose withdrawal changed after their rows were built: rebuild them all
changed_patients as (
    select distinct built.healthex_patient_id
    from {{ this }} as built
    left join withdrawn on withdrawn.patient_id = built.healthex_patient_id
    where built.is_patient_withdrawn <> coalesce(withdrawn.is_withdrawn_everywhere, false)
),
{%- endif %}

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
)
{%- endset %}

{%- set columns %}
    cast(lower(categories.category_code) as {{ dbt.type_string() }}) as category_code,
    cast(categories.category_system as {{ dbt.type_string() }}) as category_system,
    {{ healthdata.fhir_code_columns(['code']) }},
    cast(coalesce(
        cast(s.value as double precision),
        {{ safe_number(json_text('s.resource', ['valueQuantity', 'value'])) }},
        {{ safe_number(json_text('s.resource', ['valueInteger'])) }}
    ) as double precision) as value_number,
    cast(coalesce(
        s.unit,
        {{ json_text('s.resource', ['valueQuantity', 'unit']) }},
        {{ json_text('s.resource', ['valueQuantity', 'code']) }}
    ) as {{ dbt.type_string() }}) as unit,
    cast(coalesce(
        {{ json_text('s.resource', ['valueString']) }},
        {{ json_text('s.resource', ['valueCodeableConcept', 'text']) }},
        {{ json_text('s.resource', ['valueCodeableConcept', 'coding', 0, 'display']) }},
        {{ json_text('s.resource', ['valueBoolean']) }},
        {{ json_text('s.resource', ['valueDateTime']) }},
        {{ json_text('s.resource', ['valueQuantity', 'comparator']) }}
            || {{ json_text('s.resource', ['valueQuantity', 'value']) }}
    ) as {{ dbt.type_string() }}) as value_text,
    cast({{ json_text('s.resource', ['valueCodeableConcept', 'coding', 0, 'code']) }} as {{ dbt.type_string() }}) as value_code,
    {{ healthdata.fhir_date([['effectiveDateTime'], ['effectivePeriod', 'start'], ['effectiveInstant'], 's.effective']) }} as effective_at,
    {{ healthdata.fhir_date([['effectivePeriod', 'end']]) }} as effective_end_at,
    {{ to_utc_timestamp(json_text('s.resource', ['issued'])) }} as issued_at,
    cast({{ json_text('s.resource', ['referenceRange', 0, 'low', 'value']) }} as {{ dbt.type_string() }}) as reference_range_low,
    cast({{ json_text('s.resource', ['referenceRange', 0, 'high', 'value']) }} as {{ dbt.type_string() }}) as reference_range_high,
    cast({{ json_text('s.resource', ['referenceRange', 0, 'text']) }} as {{ dbt.type_string() }}) as reference_range_text
{%- endset %}

{%- set joins %}
left join categories
    on categories.project_id = s.project_id
    and categories.healthex_patient_id = s.healthex_patient_id
    and categories.id = s.id
{%- endset %}

{{ healthdata.fhir_staging_model('observation', columns, statuses=[('status', healthdata.fhir_status(promoted_first=true))], ctes=ctes, rows='to_build', joins=joins) }}
