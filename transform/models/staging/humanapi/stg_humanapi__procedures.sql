{#- Human API procedures: one row per (human_id, id) (fields from recorded responses: not documented). -#}
{%- set src = source('humanapi', 'procedures') -%}

{% call healthdata.humanapi_staging(src) %}
select
    {{ healthdata.humanapi_columns([
        'human_id', 'id', 'client_user_id', 'source', 'name', 'dateTime:timestamp:performed_at',
    ]) }},
    cast({{ json_text('performer', ['organizationName']) }} as {{ dbt.type_string() }}) as performer_organization,
    {{ healthdata.humanapi_first_code() }},
    {{ healthdata.humanapi_columns(
        ['organization_id', 'organization_name', 'created_at', 'updated_at', 'is_deleted', '_batched_at'], src
    ) }}
from current_version
{% endcall %}
