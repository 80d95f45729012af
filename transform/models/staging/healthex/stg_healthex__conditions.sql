{#- FHIR Condition resources, the current version of each: see fhir_staging_model
    (macros/fhir_staging.sql). A Condition has no `status`: entered-in-error is its
    verificationStatus. -#}

{%- set columns %}
    cast(lower({{ json_text('s.resource', ['category', 0, 'coding', 0, 'code']) }}) as {{ dbt.type_string() }}) as category_code,
    {{ healthdata.fhir_code_columns(['code']) }},
    {{ healthdata.fhir_date([['onsetDateTime'], ['onsetPeriod', 'start']]) }} as onset_at,
    {{ healthdata.fhir_date([['abatementDateTime'], ['abatementPeriod', 'start']]) }} as abatement_at,
    {{ healthdata.fhir_date([['recordedDate']]) }} as recorded_at
{%- endset %}

{{ healthdata.fhir_staging_model('condition', columns, statuses=healthdata.fhir_clinical_statuses()) }}
