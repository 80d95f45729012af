-- Tuva input layer `observation`: vital signs (observation_type vital-signs) and
-- PainChek pain assessments (observation_type survey: a scored instrument).
select
    event_id as observation_id,
    person_id,
    cast(null as {{ dbt.type_string() }}) as payer,
    {{ tuva_patient_id() }} as patient_id,
    cast(encounter_key as {{ dbt.type_string() }}) as encounter_id,
    cast(panel_code as {{ dbt.type_string() }}) as panel_id,
    cast(event_time as date) as observation_date,
    cast(case event_type when 'pain_assessment' then 'survey' else 'vital-signs' end
        as {{ dbt.type_string() }}) as observation_type,
    {{ tuva_source_code() }},
    {{ tuva_unmapped(['normalized_code_type', 'normalized_code', 'normalized_description']) }}
    cast(coalesce(value_text, cast(value_number as {{ dbt.type_string() }})) as {{ dbt.type_string() }}) as result,
    cast(unit as {{ dbt.type_string() }}) as source_units,
    cast(null as {{ dbt.type_string() }}) as normalized_units,
    cast(reference_range_low as {{ dbt.type_string() }}) as source_reference_range_low,
    cast(reference_range_high as {{ dbt.type_string() }}) as source_reference_range_high,
    {{ tuva_unmapped(['normalized_reference_range_low', 'normalized_reference_range_high']) }}
    {{ tuva_lineage() }}
from {{ ref('int_clinical_events') }}
where event_type in ('vital', 'pain_assessment') and not is_excluded
