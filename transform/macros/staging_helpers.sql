{#-
  Helpers of the staging models (see macros/guards.sql for the missing-source guard).
-#}

{#
  The sources of `names` (tables of `source_name`) that are in the warehouse, in the
  order given. While dbt parses (no warehouse yet) every one is listed, so each stays a
  dependency of the model.
#}
{% macro present_sources(source_name, names) -%}
    {%- set present = [] -%}
    {%- for name in names -%}
        {%- if healthdata.source_exists(source(source_name, name)) -%}
            {%- do present.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(present) }}
{%- endmacro %}

{#
  explode_array_column (macros/json.sql) as an OUTER join: one row per element of a
  top-level array column (`alias.elem` JSON, `alias.idx` 1-based), and ONE row with
  `alias.elem` and `alias.idx` NULL for a row whose array is NULL or empty. An
  incremental exploded model (delete+insert on the parent key) needs that row: a
  parent whose array became empty is then in the new batch, and its old entries go.
#}
{% macro explode_array_column_outer(column, alias) -%}
{{ return(adapter.dispatch('explode_array_column_outer', 'healthdata')(column, alias)) }}
{%- endmacro %}
{% macro default__explode_array_column_outer(column, alias) -%}
left join lateral unnest({{ column }}) with ordinality as {{ alias }}(elem, idx) on true
{%- endmacro %}
{% macro duckdb__explode_array_column_outer(column, alias) -%}
left join lateral (
    select
        unnest(json_extract(
            case when json_type({{ column }}) = 'ARRAY' then {{ column }} else '[]'::json end, '$[*]'
        )) as elem,
        generate_subscripts(json_extract(
            case when json_type({{ column }}) = 'ARRAY' then {{ column }} else '[]'::json end, '$[*]'
        ), 1) as idx
) as {{ alias }} on true
{%- endmacro %}

{# A JSON value from its text (a staging model's JSON column is declared `text`). #}
{% macro json_from_text(expr) -%}
{{ return(adapter.dispatch('json_from_text', 'healthdata')(expr)) }}
{%- endmacro %}
{% macro default__json_from_text(expr) -%}
cast({{ expr }} as jsonb)
{%- endmacro %}
{% macro duckdb__json_from_text(expr) -%}
cast({{ expr }} as json)
{%- endmacro %}
