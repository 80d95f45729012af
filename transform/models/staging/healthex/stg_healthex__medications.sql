{#-
  FHIR MedicationRequest and MedicationStatement resources in one model: one row
  per (project_id, healthex_patient_id, resource_type, resource_id), the current
  version of each (newest meta.lastUpdated, then newest batch).
  A request's dosage is dosageInstruction[0], a statement's dosage[0].
  A stream whose table is not loaded yet is left out of the union (neither loaded: no rows).
-#}
{#- FHIR dateTime may be partial ("2019", "2019-04"): read as its first day. -#}
{%- set partial = "(case when length(@) = 4 then @ || '-01-01' when length(@) = 7 then @ || '-01' else @ end)" %}
{%- set streams = [
    ('medication_request', 'MedicationRequest', 'dosageInstruction'),
    ('medication_statement', 'MedicationStatement', 'dosage'),
] %}
{%- set present = healthdata.present_sources('healthex', streams | map('first') | list) %}

{% if present %}
with
{%- for stream, fhir_type, dosage in streams if stream in present %}
{%- set src = source('healthex', stream) %}

{{ stream }}_current as (
    {{ current_rows(src, ['project_id', 'healthex_patient_id', 'id'], ['meta_last_updated', batched_at(src)]) }}
),

{{ stream }}_rows as (
    select
        cast('{{ fhir_type }}' as {{ dbt.type_string() }}) as resource_type,
        cast('{{ stream }}' as {{ dbt.type_string() }}) as source_table,
        s.project_id,
        s.healthex_patient_id,
        s.id,
        s.retrieval_id,
        s.resource,
        s.code,
        s.code_system,
        s.display,
        s.status,
        s.meta_last_updated,
        {{ json_get('s.resource', [dosage, 0]) }} as dosage,
        {{ loader_deleted(src) }} as is_loader_deleted,
        cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
    from {{ stream }}_current as s
),
{%- endfor %}

source_rows as (
    {%- for stream, fhir_type, dosage in streams if stream in present %}
    select * from {{ stream }}_rows
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

withdrawn as (
    select distinct patient_id, is_withdrawn_everywhere
    from {{ ref('stg_healthex__identified_patients') }}
),

renamed as (
    select
        cast(s.project_id as {{ dbt.type_string() }}) as project_id,
        cast(s.healthex_patient_id as {{ dbt.type_string() }}) as healthex_patient_id,
        s.resource_type,
        cast(s.id as {{ dbt.type_string() }}) as resource_id,
        s.source_table,
        cast(s.retrieval_id as {{ dbt.type_string() }}) as retrieval_id,
        cast(lower(coalesce({{ json_text('s.resource', ['status']) }}, s.status)) as {{ dbt.type_string() }}) as status,
        cast(lower({{ json_text('s.resource', ['intent']) }}) as {{ dbt.type_string() }}) as intent,
        cast(coalesce(s.code, {{ json_text('s.resource', ['medicationCodeableConcept', 'coding', 0, 'code']) }}) as {{ dbt.type_string() }}) as code,
        cast(coalesce(s.code_system, {{ json_text('s.resource', ['medicationCodeableConcept', 'coding', 0, 'system']) }}) as {{ dbt.type_string() }}) as code_system_uri,
        cast({{ code_system_name("coalesce(s.code_system, " ~ json_text('s.resource', ['medicationCodeableConcept', 'coding', 0, 'system']) ~ ")") }} as {{ dbt.type_string() }}) as code_system,
        cast(coalesce(
            s.display,
            {{ json_text('s.resource', ['medicationCodeableConcept', 'coding', 0, 'display']) }},
            {{ json_text('s.resource', ['medicationCodeableConcept', 'text']) }},
            {{ json_text('s.resource', ['medicationReference', 'display']) }}
        ) as {{ dbt.type_string() }}) as display,
        cast({{ json_text('s.resource', ['medicationReference', 'reference']) }} as {{ dbt.type_string() }}) as medication_reference,
        {{ to_utc_timestamp(partial | replace('@', json_text('s.resource', ['authoredOn']))) }} as authored_at,
        {{ to_utc_timestamp(partial | replace('@', "coalesce(" ~ json_text('s.resource', ['effectiveDateTime']) ~ ", " ~ json_text('s.resource', ['effectivePeriod', 'start']) ~ ")")) }} as effective_at,
        {{ to_utc_timestamp(partial | replace('@', json_text('s.resource', ['effectivePeriod', 'end']))) }} as effective_end_at,
        {{ to_utc_timestamp(partial | replace('@', json_text('s.resource', ['dateAsserted']))) }} as asserted_at,
        cast({{ json_text('s.dosage', ['text']) }} as {{ dbt.type_string() }}) as dosage_text,
        cast({{ safe_number(json_text('s.dosage', ['doseAndRate', 0, 'doseQuantity', 'value'])) }} as double precision) as dose_value,
        cast(coalesce(
            {{ json_text('s.dosage', ['doseAndRate', 0, 'doseQuantity', 'unit']) }},
            {{ json_text('s.dosage', ['doseAndRate', 0, 'doseQuantity', 'code']) }}
        ) as {{ dbt.type_string() }}) as dose_unit,
        cast(coalesce(
            {{ json_text('s.dosage', ['route', 'coding', 0, 'display']) }},
            {{ json_text('s.dosage', ['route', 'text']) }},
            {{ json_text('s.dosage', ['route', 'coding', 0, 'code']) }}
        ) as {{ dbt.type_string() }}) as route,
        cast(coalesce(
            {{ json_text('s.resource', ['encounter', 'reference']) }},
            {{ json_text('s.resource', ['context', 'reference']) }}
        ) as {{ dbt.type_string() }}) as encounter_reference,
        cast(s.meta_last_updated as {{ dbt.type_timestamp() }}) as meta_last_updated,
        s.is_loader_deleted,
        s._batched_at
    from source_rows as s
)

select
    renamed.project_id,
    renamed.healthex_patient_id,
    renamed.resource_type,
    renamed.resource_id,
    renamed.source_table,
    renamed.retrieval_id,
    renamed.status,
    renamed.intent,
    renamed.code,
    renamed.code_system_uri,
    renamed.code_system,
    renamed.display,
    renamed.medication_reference,
    renamed.authored_at,
    renamed.effective_at,
    renamed.effective_end_at,
    renamed.asserted_at,
    renamed.dosage_text,
    renamed.dose_value,
    renamed.dose_unit,
    renamed.route,
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
