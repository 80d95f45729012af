-- Tuva input layer `immunization`: Human API immunizations and HealthEx FHIR
-- Immunization.
select
    event_id as immunization_id,
    person_id,
    {{ tuva_patient_id() }} as patient_id,
    cast(encounter_key as {{ dbt.type_string() }}) as encounter_id,
    cast({{ tuva_code_type('code_system') }} as {{ dbt.type_string() }}) as source_code_type,
    cast(code as {{ dbt.type_string() }}) as source_code,
    cast(display as {{ dbt.type_string() }}) as source_description,
    cast(null as {{ dbt.type_string() }}) as normalized_code_type,
    cast(null as {{ dbt.type_string() }}) as normalized_code,
    cast(null as {{ dbt.type_string() }}) as normalized_description,
    cast(status as {{ dbt.type_string() }}) as status,
    cast(null as {{ dbt.type_string() }}) as status_reason,
    cast(event_time as date) as occurrence_date,
    cast(dose as {{ dbt.type_string() }}) as source_dose,
    cast(null as {{ dbt.type_string() }}) as normalized_dose,
    cast(null as {{ dbt.type_string() }}) as lot_number,
    cast(null as {{ dbt.type_string() }}) as body_site,
    cast(route as {{ dbt.type_string() }}) as route,
    cast(null as {{ dbt.type_string() }}) as location_id,
    cast(null as {{ dbt.type_string() }}) as practitioner_id,
    {{ tuva_lineage() }}
from {{ ref('int_clinical_events') }}
where event_type = 'immunization' and not is_excluded
