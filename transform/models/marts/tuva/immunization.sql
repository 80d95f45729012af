-- Tuva input layer `immunization`: Human API immunizations and HealthEx FHIR
-- Immunization.
select
    event_id as immunization_id,
    person_id,
    {{ tuva_patient_id() }} as patient_id,
    cast(encounter_key as {{ dbt.type_string() }}) as encounter_id,
    {{ tuva_source_code() }},
    {{ tuva_unmapped(['normalized_code_type', 'normalized_code', 'normalized_description']) }}
    cast(status as {{ dbt.type_string() }}) as status,
    cast(null as {{ dbt.type_string() }}) as status_reason,
    cast(event_time as date) as occurrence_date,
    cast(dose as {{ dbt.type_string() }}) as source_dose,
    {{ tuva_unmapped(['normalized_dose', 'lot_number', 'body_site']) }}
    cast(route as {{ dbt.type_string() }}) as route,
    {{ tuva_unmapped(['location_id', 'practitioner_id']) }}
    {{ tuva_lineage() }}
from {{ ref('int_clinical_events') }}
where event_type = 'immunization' and not is_excluded
