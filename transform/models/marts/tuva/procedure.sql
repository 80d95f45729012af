-- Tuva input layer `procedure`: Human API procedures and HealthEx FHIR Procedure.
select
    event_id as procedure_id,
    person_id,
    {{ tuva_patient_id() }} as patient_id,
    cast(encounter_key as {{ dbt.type_string() }}) as encounter_id,
    cast(null as {{ dbt.type_string() }}) as claim_id,
    cast(event_time as date) as procedure_date,
    {{ tuva_source_code() }},
    {{ tuva_unmapped(['normalized_code_type', 'normalized_code', 'normalized_description', 'modifier_1', 'modifier_2', 'modifier_3', 'modifier_4', 'modifier_5', 'practitioner_id']) }}
    {{ tuva_lineage() }}
from {{ ref('int_clinical_events') }}
where event_type = 'procedure' and not is_excluded
