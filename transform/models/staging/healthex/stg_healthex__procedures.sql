{#- FHIR Procedure resources, the current version of each: see fhir_staging_model
    (macros/fhir_staging.sql). -#}

{%- set columns %}
    {{ healthdata.fhir_code_columns(['code']) }},
    {{ healthdata.fhir_date([['performedDateTime'], ['performedPeriod', 'start']]) }} as performed_at,
    {{ healthdata.fhir_date([['performedPeriod', 'end']]) }} as performed_end_at
{%- endset %}

{{ healthdata.fhir_staging_model('procedure', columns, statuses=[('status', healthdata.fhir_status())]) }}
