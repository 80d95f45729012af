{#- FHIR AllergyIntolerance resources, the current version of each: see fhir_staging_model
    (macros/fhir_staging.sql). No `status`: entered-in-error is its verificationStatus
    (or clinicalStatus). -#}

{%- set columns %}
    cast(lower({{ json_text('s.resource', ['type']) }}) as {{ dbt.type_string() }}) as allergy_type,
    cast(lower({{ json_text('s.resource', ['category', 0]) }}) as {{ dbt.type_string() }}) as category,
    cast(lower({{ json_text('s.resource', ['criticality']) }}) as {{ dbt.type_string() }}) as criticality,
    {{ healthdata.fhir_code_columns(['code']) }},
    {{ healthdata.fhir_date([['onsetDateTime'], ['onsetPeriod', 'start']]) }} as onset_at,
    {{ healthdata.fhir_date([['recordedDate']]) }} as recorded_at,
    {{ healthdata.fhir_date([['lastOccurrence']]) }} as last_occurrence_at,
    cast(coalesce(
        {{ json_text('s.resource', ['reaction', 0, 'manifestation', 0, 'text']) }},
        {{ json_text('s.resource', ['reaction', 0, 'manifestation', 0, 'coding', 0, 'display']) }}
    ) as {{ dbt.type_string() }}) as reaction_manifestation,
    cast(lower({{ json_text('s.resource', ['reaction', 0, 'severity']) }}) as {{ dbt.type_string() }}) as reaction_severity
{%- endset %}

{{ healthdata.fhir_staging_model('allergy_intolerance', columns, statuses=healthdata.fhir_clinical_statuses()) }}
