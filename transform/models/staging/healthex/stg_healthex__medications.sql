{#-
  FHIR MedicationRequest and MedicationStatement resources in one model: one row
  per (project_id, healthex_patient_id, resource_type, resource_id), the current
  version of each (newest meta.lastUpdated, then newest batch).
  A request's dosage is dosageInstruction[0], a statement's dosage[0].
  A stream whose table is not loaded yet is left out of the union (neither loaded: no rows).
  The shared scaffolding and columns: macros/fhir_staging.sql.
-#}
{%- set streams = [
    ('medication_request', 'MedicationRequest', {'dosage': json_get('s.resource', ['dosageInstruction', 0])}),
    ('medication_statement', 'MedicationStatement', {'dosage': json_get('s.resource', ['dosage', 0])}),
] %}

{%- set columns %}
    cast(lower({{ json_text('s.resource', ['intent']) }}) as {{ dbt.type_string() }}) as intent,
    {{ healthdata.fhir_code_columns(['medicationCodeableConcept'], display_fallbacks=[['medicationReference', 'display']]) }},
    cast({{ json_text('s.resource', ['medicationReference', 'reference']) }} as {{ dbt.type_string() }}) as medication_reference,
    {{ healthdata.fhir_date([['authoredOn']]) }} as authored_at,
    {{ healthdata.fhir_date([['effectiveDateTime'], ['effectivePeriod', 'start']]) }} as effective_at,
    {{ healthdata.fhir_date([['effectivePeriod', 'end']]) }} as effective_end_at,
    {{ healthdata.fhir_date([['dateAsserted']]) }} as asserted_at,
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
    ) as {{ dbt.type_string() }}) as route
{%- endset %}

{{ healthdata.fhir_staging_model(
    streams,
    columns,
    statuses=[('status', healthdata.fhir_status())],
    encounter_reference=[['encounter', 'reference'], ['context', 'reference']],
) }}
