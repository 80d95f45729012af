{#- HealthEx diagnostic_report, one row per (project_id, healthex_patient_id, id): the current
    version (newest meta_last_updated, then newest batch). FHIR DiagnosticReport resources.
    is_deleted: loader-deleted, or status entered-in-error (a withdrawn patient is left to
    downstream models). Rendered by macros/fhir_staging.sql. -#}
{{ healthdata.fhir_resource_model('diagnostic_report') }}
