{#-
  HealthEx clinical events in the shared int_<vendor>__events shape, one row per
  FHIR resource. A resource delivered for the same patient in several projects is
  one event: the version with the newest meta.lastUpdated (then not deleted, then
  newest batch) is kept, and event_id leaves the project out so it is stable.
  Observations: category laboratory -> lab, vital-signs -> vital; one without any
  category is a vital only when its LOINC code is a vital sign. Other observations
  (survey, social-history, exam, imaging, ...) are not events.
-#}
{%- set vital_loinc = [
    '85353-1', '9279-1', '8867-4', '2708-6', '59408-5', '8310-5', '8302-2', '8306-3',
    '9843-4', '8287-5', '29463-7', '3141-9', '39156-5', '85354-9', '8480-6', '8462-4', '8478-0'
] %}
{%- set s = dbt.type_string() %}
{%- set ts = dbt.type_timestamp() %}
{%- set null_s = 'cast(null as ' ~ s ~ ')' %}
{%- set null_ts = 'cast(null as ' ~ ts ~ ')' %}
{%- set null_n = 'cast(null as double precision)' %}

with observations as (
    select
        case
            when category_code in ('laboratory', 'lab') then 'lab'
            when category_code = 'vital-signs' then 'vital'
            when category_code is null and code_system = 'LOINC'
                and code in ('{{ vital_loinc | join("', '") }}') then 'vital'
        end as event_type,
        'observation' as source_table,
        project_id, healthex_patient_id, resource_id,
        effective_at as event_time,
        effective_end_at as event_end_time,
        status, code_system, code, display,
        value_number, value_text, unit,
        {{ null_s }} as panel_code, {{ null_s }} as panel_display,
        reference_range_low, reference_range_high,
        {{ null_s }} as dose, {{ null_s }} as route,
        encounter_id,
        meta_last_updated, is_deleted, _batched_at
    from {{ ref('stg_healthex__observations') }}
),

conditions as (
    select
        'condition' as event_type,
        'condition' as source_table,
        project_id, healthex_patient_id, resource_id,
        coalesce(onset_at, recorded_at) as event_time,
        abatement_at as event_end_time,
        clinical_status as status, code_system, code, display,
        {{ null_n }} as value_number, verification_status as value_text, {{ null_s }} as unit,
        {{ null_s }} as panel_code, {{ null_s }} as panel_display,
        {{ null_s }} as reference_range_low, {{ null_s }} as reference_range_high,
        {{ null_s }} as dose, {{ null_s }} as route,
        encounter_id,
        meta_last_updated, is_deleted, _batched_at
    from {{ ref('stg_healthex__conditions') }}
),

medications as (
    select
        'medication' as event_type,
        source_table,
        project_id, healthex_patient_id, resource_id,
        coalesce(authored_at, effective_at, asserted_at) as event_time,
        effective_end_at as event_end_time,
        status, code_system, code, display,
        dose_value as value_number, dosage_text as value_text, dose_unit as unit,
        {{ null_s }} as panel_code, {{ null_s }} as panel_display,
        {{ null_s }} as reference_range_low, {{ null_s }} as reference_range_high,
        coalesce(
            case when dose_value is not null
                then trim(cast(dose_value as {{ s }}) || ' ' || coalesce(dose_unit, '')) end,
            dosage_text
        ) as dose,
        route,
        encounter_id,
        meta_last_updated, is_deleted, _batched_at
    from {{ ref('stg_healthex__medications') }}
),

encounters as (
    select
        'encounter' as event_type,
        'encounter' as source_table,
        project_id, healthex_patient_id, resource_id,
        period_start_at as event_time,
        period_end_at as event_end_time,
        status, type_code_system as code_system, type_code as code, type_display as display,
        {{ null_n }} as value_number, class_code as value_text, {{ null_s }} as unit,
        {{ null_s }} as panel_code, {{ null_s }} as panel_display,
        {{ null_s }} as reference_range_low, {{ null_s }} as reference_range_high,
        {{ null_s }} as dose, {{ null_s }} as route,
        resource_id as encounter_id,
        meta_last_updated, is_deleted, _batched_at
    from {{ ref('stg_healthex__encounters') }}
),

procedures as (
    select
        'procedure' as event_type,
        'procedure' as source_table,
        project_id, healthex_patient_id, resource_id,
        performed_at as event_time,
        performed_end_at as event_end_time,
        status, code_system, code, display,
        {{ null_n }} as value_number, {{ null_s }} as value_text, {{ null_s }} as unit,
        {{ null_s }} as panel_code, {{ null_s }} as panel_display,
        {{ null_s }} as reference_range_low, {{ null_s }} as reference_range_high,
        {{ null_s }} as dose, {{ null_s }} as route,
        encounter_id,
        meta_last_updated, is_deleted, _batched_at
    from {{ ref('stg_healthex__procedures') }}
),

immunizations as (
    select
        'immunization' as event_type,
        'immunization' as source_table,
        project_id, healthex_patient_id, resource_id,
        coalesce(occurrence_at, recorded_at) as event_time,
        {{ null_ts }} as event_end_time,
        status, vaccine_code_system as code_system, vaccine_code as code, vaccine_display as display,
        dose_quantity_value as value_number, lot_number as value_text, dose_quantity_unit as unit,
        {{ null_s }} as panel_code, {{ null_s }} as panel_display,
        {{ null_s }} as reference_range_low, {{ null_s }} as reference_range_high,
        case when dose_quantity_value is not null
            then trim(cast(dose_quantity_value as {{ s }}) || ' ' || coalesce(dose_quantity_unit, '')) end as dose,
        route,
        encounter_id,
        meta_last_updated, is_deleted, _batched_at
    from {{ ref('stg_healthex__immunizations') }}
),

allergies as (
    select
        'allergy' as event_type,
        'allergy_intolerance' as source_table,
        project_id, healthex_patient_id, resource_id,
        coalesce(onset_at, recorded_at) as event_time,
        {{ null_ts }} as event_end_time,
        clinical_status as status, code_system, code, display,
        {{ null_n }} as value_number, reaction_manifestation as value_text, {{ null_s }} as unit,
        {{ null_s }} as panel_code, {{ null_s }} as panel_display,
        {{ null_s }} as reference_range_low, {{ null_s }} as reference_range_high,
        {{ null_s }} as dose, {{ null_s }} as route,
        encounter_id,
        meta_last_updated, is_deleted, _batched_at
    from {{ ref('stg_healthex__allergies') }}
),

all_events as (
    select * from observations where event_type is not null
    union all select * from conditions
    union all select * from medications
    union all select * from encounters
    union all select * from procedures
    union all select * from immunizations
    union all select * from allergies
),

ranked as (
    select
        all_events.*,
        row_number() over (
            partition by source_table, healthex_patient_id, resource_id
            order by
                meta_last_updated desc nulls last,
                case when is_deleted then 1 else 0 end,
                _batched_at desc nulls last,
                project_id
        ) as version_rank
    from all_events
)

select
    cast('healthex:' || source_table || ':' || healthex_patient_id || ':' || resource_id as {{ s }}) as event_id,
    cast('healthex' as {{ s }}) as vendor,
    cast(healthex_patient_id as {{ s }}) as patient_key,
    cast(event_type as {{ s }}) as event_type,
    cast(event_time as {{ ts }}) as event_time,
    cast(event_end_time as {{ ts }}) as event_end_time,
    cast(status as {{ s }}) as status,
    cast(code_system as {{ s }}) as code_system,
    cast(code as {{ s }}) as code,
    cast(display as {{ s }}) as display,
    cast(value_number as double precision) as value_number,
    cast(value_text as {{ s }}) as value_text,
    cast(unit as {{ s }}) as unit,
    cast(panel_code as {{ s }}) as panel_code,
    cast(panel_display as {{ s }}) as panel_display,
    cast(reference_range_low as {{ s }}) as reference_range_low,
    cast(reference_range_high as {{ s }}) as reference_range_high,
    cast(dose as {{ s }}) as dose,
    cast(route as {{ s }}) as route,
    cast(encounter_id as {{ s }}) as encounter_key,
    cast(source_table as {{ s }}) as source_table,
    cast(project_id || ':' || healthex_patient_id || ':' || resource_id as {{ s }}) as source_key,
    cast(is_deleted as boolean) as is_deleted,
    cast(_batched_at as {{ ts }}) as _batched_at
from ranked
where version_rank = 1
