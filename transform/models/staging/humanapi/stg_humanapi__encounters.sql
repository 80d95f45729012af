{#- Human API encounters (visits): one row per (human_id, id). The provider is a clinician (kept here, not in events). -#}
{%- set src = source('humanapi', 'encounters') -%}

{% call healthdata.humanapi_staging(src) %}
select
    {{ healthdata.humanapi_columns([
        'human_id', 'id', 'client_user_id', 'source', 'dateTime:timestamp:encounter_time', 'visitType',
    ]) }},
    cast({{ json_text('provider', ['name']) }} as {{ dbt.type_string() }}) as provider_name,
    cast({{ json_text('provider', ['departmentName']) }} as {{ dbt.type_string() }}) as provider_department,
    cast({{ json_text(array_column_element('diagnoses'), ['name']) }} as {{ dbt.type_string() }}) as first_diagnosis,
    {{ healthdata.humanapi_first_code() }},
    {{ healthdata.humanapi_columns(
        ['organization_id', 'organization_name', 'created_at', 'updated_at', 'is_deleted', '_batched_at'], src
    ) }}
from current_version
{% endcall %}
