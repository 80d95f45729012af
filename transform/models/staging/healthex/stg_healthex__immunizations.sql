{#- FHIR Immunization resources, the current version of each: see fhir_staging_model
    (macros/fhir_staging.sql). -#}

{%- set columns %}
    {{ healthdata.fhir_code_columns(['vaccineCode'], prefix='vaccine_') }},
    {{ healthdata.fhir_date([['occurrenceDateTime']]) }} as occurrence_at,
    cast({{ json_text('s.resource', ['occurrenceString']) }} as {{ dbt.type_string() }}) as occurrence_text,
    {{ healthdata.fhir_date([['recorded']]) }} as recorded_at,
    cast({{ json_text('s.resource', ['lotNumber']) }} as {{ dbt.type_string() }}) as lot_number,
    cast({{ healthdata.fhir_first([['route', 'coding', 0, 'display'], ['route', 'text'], ['route', 'coding', 0, 'code']]) }} as {{ dbt.type_string() }}) as route,
    cast({{ healthdata.fhir_first([['site', 'coding', 0, 'display'], ['site', 'text']]) }} as {{ dbt.type_string() }}) as site,
    cast({{ safe_number(json_text('s.resource', ['doseQuantity', 'value'])) }} as double precision) as dose_quantity_value,
    cast({{ healthdata.fhir_first([['doseQuantity', 'unit'], ['doseQuantity', 'code']]) }} as {{ dbt.type_string() }}) as dose_quantity_unit,
    cast(lower({{ json_text('s.resource', ['primarySource']) }}) = 'true' as boolean) as is_primary_source
{%- endset %}

{{ healthdata.fhir_staging_model('immunization', columns, statuses=[('status', healthdata.fhir_status())]) }}
