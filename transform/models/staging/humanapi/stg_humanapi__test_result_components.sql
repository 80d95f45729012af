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

{% call healthdata.humanapi_staging(src, parents=true) %},

parents_to_load as (
    select * from parents
    {{ loaded_since_last_build('_batched_at') }}
)

select
    {{ healthdata.humanapi_columns([
        'human_id', 'id', 'entry_index', 'client_user_id', 'source', 'resultDateTime:timestamp:result_time',
        'status', 'name:string:panel_name',
    ], prefix='p.', entry='c') }},
    {{ healthdata.humanapi_first_code('p.codes', alias_prefix='panel_') }},
    cast({{ json_text('c.elem', ['name']) }} as {{ dbt.type_string() }}) as component_name,
    cast({{ json_text('c.elem', ['value']) }} as {{ dbt.type_string() }}) as value_text,
    cast({{ safe_number(json_text('c.elem', ['value'])) }} as double precision) as value_number,
    cast({{ json_text('c.elem', ['unit']) }} as {{ dbt.type_string() }}) as unit,
    cast({{ json_text('c.elem', ['low']) }} as {{ dbt.type_string() }}) as reference_range_low,
    cast({{ json_text('c.elem', ['high']) }} as {{ dbt.type_string() }}) as reference_range_high,
    cast({{ json_text('c.elem', ['refRange']) }} as {{ dbt.type_string() }}) as reference_range_text,
    cast({{ json_text('c.elem', ['flag']) }} as {{ dbt.type_string() }}) as flag,
    cast({{ json_text('c.elem', ['componentComments']) }} as {{ dbt.type_string() }}) as component_comments,
    {{ healthdata.humanapi_first_code(element='c.elem') }},
    {{ healthdata.humanapi_columns(['orderedBy', 'organization_name', 'created_at', 'updated_at'], prefix='p.') }},
    cast(p._loader_deleted as boolean) as is_deleted,
    cast(p._batched_at as {{ dbt.type_timestamp() }}) as _batched_at
from parents_to_load as p
{{ healthdata.explode_array_column_outer('p.components', 'c') }}
{% endcall %}
