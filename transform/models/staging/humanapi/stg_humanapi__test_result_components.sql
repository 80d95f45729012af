{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['human_id', 'id'],
) }}
{#-
  One row per analyte (components[] entry) of each Human API test result (panel); the
  panel's key (human_id, id) plus entry_index (1-based). Values, low and high are
  documented as strings and sometimes sent as numbers: kept as text, and as a number
  where the text is one. Incremental: a panel loaded since the last build is replaced whole.
  A panel whose components[] is empty or NULL gives ONE placeholder row, entry_index
  NULL and the component columns NULL (the events skip it): so a panel whose
  components[] became empty on a later load is in the new batch, and delete+insert on
  its key removes the rows its earlier components left.
-#}
{%- set src = source('humanapi', 'test_results') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['human_id', 'id'], ['"updatedAt"', batched_at(src)]) }}
),

parents as (
    select
        *,
        {{ batched_at(src) }} as _batched_at,
        {{ loader_deleted(src) }} as _loader_deleted
    from current_version
),

parents_to_load as (
    select * from parents
    {{ loaded_since_last_build('_batched_at') }}
)

select
    cast(p.human_id as {{ dbt.type_string() }}) as human_id,
    cast(p.id as {{ dbt.type_string() }}) as id,
    cast(c.idx as {{ dbt.type_int() }}) as entry_index,
    cast(p.client_user_id as {{ dbt.type_string() }}) as client_user_id,
    cast(p.source as {{ dbt.type_string() }}) as source,
    cast(p."resultDateTime" as {{ dbt.type_timestamp() }}) as result_time,
    cast(p.status as {{ dbt.type_string() }}) as status,
    cast(p.name as {{ dbt.type_string() }}) as panel_name,
    cast({{ json_text(array_column_element('p.codes'), ['code']) }} as {{ dbt.type_string() }}) as panel_code,
    cast({{ code_system_name(
        'coalesce(' ~ json_text(array_column_element('p.codes'), ['codeSystemName']) ~ ', '
        ~ json_text(array_column_element('p.codes'), ['codeSystem']) ~ ')'
    ) }} as {{ dbt.type_string() }}) as panel_code_system,
    cast({{ json_text(array_column_element('p.codes'), ['name']) }} as {{ dbt.type_string() }}) as panel_code_display,
    cast({{ json_text('c.elem', ['name']) }} as {{ dbt.type_string() }}) as component_name,
    cast({{ json_text('c.elem', ['value']) }} as {{ dbt.type_string() }}) as value_text,
    cast({{ safe_number(json_text('c.elem', ['value'])) }} as double precision) as value_number,
    cast({{ json_text('c.elem', ['unit']) }} as {{ dbt.type_string() }}) as unit,
    cast({{ json_text('c.elem', ['low']) }} as {{ dbt.type_string() }}) as reference_range_low,
    cast({{ json_text('c.elem', ['high']) }} as {{ dbt.type_string() }}) as reference_range_high,
    cast({{ json_text('c.elem', ['refRange']) }} as {{ dbt.type_string() }}) as reference_range_text,
    cast({{ json_text('c.elem', ['flag']) }} as {{ dbt.type_string() }}) as flag,
    cast({{ json_text('c.elem', ['componentComments']) }} as {{ dbt.type_string() }}) as component_comments,
    cast({{ json_text('c.elem', ['codes', 0, 'code']) }} as {{ dbt.type_string() }}) as code,
    cast({{ code_system_name(
        'coalesce(' ~ json_text('c.elem', ['codes', 0, 'codeSystemName']) ~ ', '
        ~ json_text('c.elem', ['codes', 0, 'codeSystem']) ~ ')'
    ) }} as {{ dbt.type_string() }}) as code_system,
    cast({{ json_text('c.elem', ['codes', 0, 'name']) }} as {{ dbt.type_string() }}) as code_display,
    cast(p."orderedBy" as {{ dbt.type_string() }}) as ordered_by,
    cast({{ json_text('p.organization', ['name']) }} as {{ dbt.type_string() }}) as organization_name,
    cast(p."createdAt" as {{ dbt.type_timestamp() }}) as created_at,
    cast(p."updatedAt" as {{ dbt.type_timestamp() }}) as updated_at,
    cast(p._loader_deleted as boolean) as is_deleted,
    cast(p._batched_at as {{ dbt.type_timestamp() }}) as _batched_at
from parents_to_load as p
{{ healthdata.explode_array_column_outer('p.components', 'c') }}
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
