{#- Human API allergies: one row per (human_id, id). The allergy codes (codes[0]) else the allergen's; the first reaction. -#}
{%- set src = source('humanapi', 'allergies') -%}

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
    cast(severity as {{ dbt.type_string() }}) as severity,
    cast({{ to_utc_timestamp(json_text('"dateRange"', ['start'])) }} as {{ dbt.type_timestamp() }}) as start_date,
    cast({{ to_utc_timestamp(json_text('"dateRange"', ['end'])) }} as {{ dbt.type_timestamp() }}) as end_date,
    cast({{ json_text('allergen', ['name']) }} as {{ dbt.type_string() }}) as allergen_name,
    cast(coalesce(
        {{ json_text(array_column_element('codes'), ['code']) }},
        {{ json_text('allergen', ['codes', 0, 'code']) }}
    ) as {{ dbt.type_string() }}) as code,
    cast({{ code_system_name(
        'case when ' ~ json_text(array_column_element('codes'), ['code']) ~ ' is not null then coalesce('
        ~ json_text(array_column_element('codes'), ['codeSystemName']) ~ ', '
        ~ json_text(array_column_element('codes'), ['codeSystem']) ~ ') else coalesce('
        ~ json_text('allergen', ['codes', 0, 'codeSystemName']) ~ ', '
        ~ json_text('allergen', ['codes', 0, 'codeSystem']) ~ ') end'
    ) }} as {{ dbt.type_string() }}) as code_system,
    cast(case when {{ json_text(array_column_element('codes'), ['code']) }} is not null
        then {{ json_text(array_column_element('codes'), ['name']) }}
        else {{ json_text('allergen', ['codes', 0, 'name']) }}
    end as {{ dbt.type_string() }}) as code_display,
    cast({{ json_text(array_column_element('"reactionsFull"'), ['name']) }} as {{ dbt.type_string() }}) as reaction_name,
    cast({{ json_text(array_column_element('"reactionsFull"'), ['codes', 0, 'code']) }} as {{ dbt.type_string() }}) as reaction_code,
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
