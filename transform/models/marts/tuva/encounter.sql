-- Tuva input layer `encounter`: one row per encounter (Human API encounters, HealthEx
-- FHIR Encounter). Claims-only columns (DRG, payments, admit codes) are NULL.
select
    event_id as encounter_id,
    person_id,
    {{ tuva_patient_id() }} as patient_id,
    cast(display as {{ dbt.type_string() }}) as encounter_type,
    cast(event_time as date) as encounter_start_date,
    cast(event_end_time as date) as encounter_end_date,
    cast(case when event_end_time is not null
        then {{ dbt.datediff('cast(event_time as date)', 'cast(event_end_time as date)', 'day') }}
        end as {{ dbt.type_int() }}) as length_of_stay,
    {{ tuva_unmapped(['admit_source_code', 'admit_source_description', 'admit_type_code', 'admit_type_description', 'discharge_disposition_code', 'discharge_disposition_description', 'attending_provider_id', 'attending_provider_name', 'facility_npi', 'facility_name', 'primary_diagnosis_code_type', 'primary_diagnosis_code', 'primary_diagnosis_description', 'drg_code_type', 'drg_code', 'drg_description']) }}
    cast(null as {{ dbt.type_numeric() }}) as paid_amount,
    cast(null as {{ dbt.type_numeric() }}) as allowed_amount,
    cast(null as {{ dbt.type_numeric() }}) as charge_amount,
    {{ tuva_lineage() }}
from {{ ref('int_clinical_events') }}
where event_type = 'encounter' and not is_excluded
