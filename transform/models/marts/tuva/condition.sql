-- Tuva input layer `condition`: problems and diagnoses (Human API issues, HealthEx
-- FHIR Condition), as recorded (not normalized).
select
    event_id as condition_id,
    cast(null as {{ dbt.type_string() }}) as payer,
    person_id,
    {{ tuva_patient_id() }} as patient_id,
    cast(encounter_key as {{ dbt.type_string() }}) as encounter_id,
    cast(null as {{ dbt.type_string() }}) as claim_id,
    cast(event_time as date) as recorded_date,
    cast(event_time as date) as onset_date,
    cast(event_end_time as date) as resolved_date,
    cast(status as {{ dbt.type_string() }}) as status,
    cast('problem' as {{ dbt.type_string() }}) as condition_type,
    {{ tuva_source_code() }},
    {{ tuva_unmapped(['normalized_code_type', 'normalized_code', 'normalized_description']) }}
    cast(null as {{ dbt.type_int() }}) as condition_rank,
    {{ tuva_unmapped(['present_on_admit_code', 'present_on_admit_description']) }}
    {{ tuva_lineage() }}
from {{ ref('int_clinical_events') }}
where event_type = 'condition' and not is_excluded
