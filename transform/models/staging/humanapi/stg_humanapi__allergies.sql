{#- Human API allergies: one row per (human_id, id). The allergy codes (codes[0]) else the allergen's; the first reaction. -#}
{%- set src = source('humanapi', 'allergies') -%}

{% call healthdata.humanapi_staging(src) %}
select
    {{ healthdata.humanapi_columns(['human_id', 'id', 'client_user_id', 'source', 'name', 'status', 'severity']) }},
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
    {{ healthdata.humanapi_columns(
        ['organization_id', 'organization_name', 'created_at', 'updated_at', 'is_deleted', '_batched_at'], src
    ) }}
from current_version
{% endcall %}
