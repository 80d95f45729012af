{#- HealthEx fhir_other, one row per (project_id, healthex_patient_id, id, resource_type): the
    current version (newest meta_last_updated, then newest batch). FHIR resources of the other
    types (Practitioner, Organization, CarePlan, ...). is_deleted: loader-deleted, or status
    entered-in-error (a withdrawn patient is left to downstream models).
    Rendered by macros/fhir_staging.sql. -#}
{{ healthdata.fhir_resource_model(
    'fhir_other',
    key_extra=['resource_type'],
    status=json_text('"resource"', ['status']),
    summary=false,
) }}
