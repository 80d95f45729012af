{#- Human API problems (issues): one row per (human_id, id). "dateTime" (when noted) comes on some only. -#}
{%- set src = source('humanapi', 'issues') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['human_id', 'id'], ['"updatedAt"', batched_at(src)]) }}
)

select
    cast(human_id as {{ dbt.type_string() }}) as human_id,
    cast(id as {{ dbt.type_string() }}) as id,
    cast(client_user_id as {{ dbt.type_string() }}) as client_user_id,
    cast(source as {{ dbt.type_string() }}) as source,
    cast(name as {{ dbt.type_string() }}) as name,
    cast(status as {{ dbt.type_string() }}) as status,
    cast("dateTime" as {{ dbt.type_timestamp() }}) as noted_at,
    cast({{ json_text(array_column_element('codes'), ['code']) }} as {{ dbt.type_string() }}) as code,
    cast({{ code_system_name(
        'coalesce(' ~ json_text(array_column_element('codes'), ['codeSystemName']) ~ ', '
        ~ json_text(array_column_element('codes'), ['codeSystem']) ~ ')'
    ) }} as {{ dbt.type_string() }}) as code_system,
    cast({{ json_text(array_column_element('codes'), ['name']) }} as {{ dbt.type_string() }}) as code_display,
    cast({{ json_text('organization', ['id']) }} as {{ dbt.type_string() }}) as organization_id,
    cast({{ json_text('organization', ['name']) }} as {{ dbt.type_string() }}) as organization_name,
    cast("createdAt" as {{ dbt.type_timestamp() }}) as created_at,
    cast("updatedAt" as {{ dbt.type_timestamp() }}) as updated_at,
    cast({{ loader_deleted(src) }} as boolean) as is_deleted,
    cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
from current_version
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
