{#- Human API problems (issues): one row per (human_id, id). "dateTime" (when noted) comes on some only. -#}
{%- set src = source('humanapi', 'issues') -%}

{% call healthdata.humanapi_staging(src) %}
select
    {{ healthdata.humanapi_columns([
        'human_id', 'id', 'client_user_id', 'source', 'name', 'status', 'dateTime:timestamp:noted_at',
    ]) }},
    {{ healthdata.humanapi_first_code() }},
    {{ healthdata.humanapi_columns(
        ['organization_id', 'organization_name', 'created_at', 'updated_at', 'is_deleted', '_batched_at'], src
    ) }}
from current_version
{% endcall %}
