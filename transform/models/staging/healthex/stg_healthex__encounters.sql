{#- FHIR Encounter resources, the current version of each: see fhir_staging_model
    (macros/fhir_staging.sql). -#}

{%- set columns %}
    cast(coalesce(s.class_code, {{ json_text('s.resource', ['class', 'code']) }}) as {{ dbt.type_string() }}) as class_code,
    cast({{ json_text('s.resource', ['class', 'display']) }} as {{ dbt.type_string() }}) as class_display,
    {{ healthdata.fhir_code_columns(['type', 0], prefix='type_', promoted=false) }},
    cast({{ json_text('s.resource', ['type', 0, 'text']) }} as {{ dbt.type_string() }}) as type_text,
    {{ healthdata.fhir_date(['s.period_start', ['period', 'start']]) }} as period_start_at,
    {{ healthdata.fhir_date(['s.period_end', ['period', 'end']]) }} as period_end_at,
    cast({{ json_text('s.resource', ['serviceProvider', 'reference']) }} as {{ dbt.type_string() }}) as service_provider_reference
{%- endset %}

{{ healthdata.fhir_staging_model('encounter', columns, statuses=[('status', healthdata.fhir_status(promoted_first=true))], encounter_reference=none) }}
