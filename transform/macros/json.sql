{#-
  JSON access that reads the same on DuckDB (JSON columns) and PostgreSQL (jsonb, and
  jsonb[] for top-level arrays). A path is a list of keys and 0-based array indexes,
  e.g. ['code', 'coding', 0, 'code'].
-#}

{% macro _duckdb_json_path(path) -%}
'${% for part in path %}{% if part is number %}[{{ part }}]{% else %}."{{ part }}"{% endif %}{% endfor %}'
{%- endmacro %}

{% macro _postgres_json_path(path) -%}
'{ {{- path | join(',') -}} }'
{%- endmacro %}

{# The text at a path (NULL when absent). #}
{% macro json_text(expr, path) -%}
{{ return(adapter.dispatch('json_text', 'healthdata')(expr, path)) }}
{%- endmacro %}
{% macro default__json_text(expr, path) -%}
({{ expr }} #>> {{ _postgres_json_path(path) }})
{%- endmacro %}
{% macro duckdb__json_text(expr, path) -%}
json_extract_string({{ expr }}, {{ _duckdb_json_path(path) }})
{%- endmacro %}

{# The JSON value at a path. #}
{% macro json_get(expr, path) -%}
{{ return(adapter.dispatch('json_get', 'healthdata')(expr, path)) }}
{%- endmacro %}
{% macro default__json_get(expr, path) -%}
({{ expr }} #> {{ _postgres_json_path(path) }})
{%- endmacro %}
{% macro duckdb__json_get(expr, path) -%}
json_extract({{ expr }}, {{ _duckdb_json_path(path) }})
{%- endmacro %}

{# Element `index` (0-based) of a top-level array column, as JSON. #}
{% macro array_column_element(column, index=0) -%}
{{ return(adapter.dispatch('array_column_element', 'healthdata')(column, index)) }}
{%- endmacro %}
{% macro default__array_column_element(column, index=0) -%}
({{ column }})[{{ index + 1 }}]
{%- endmacro %}
{% macro duckdb__array_column_element(column, index=0) -%}
json_extract({{ column }}, '$[{{ index }}]')
{%- endmacro %}

{#
  A FROM-clause fragment: one row per element of a top-level array column, as
  `alias.elem` (JSON) and `alias.idx` (1-based). Rows whose array is NULL or empty
  give no row.
#}
{% macro explode_array_column(column, alias) -%}
{{ return(adapter.dispatch('explode_array_column', 'healthdata')(column, alias)) }}
{%- endmacro %}
{% macro default__explode_array_column(column, alias) -%}
cross join lateral unnest({{ column }}) with ordinality as {{ alias }}(elem, idx)
{%- endmacro %}
{% macro duckdb__explode_array_column(column, alias) -%}
{{ duckdb__explode_json_array(column, alias) }}
{%- endmacro %}

{# The same for a JSON value that holds an array (anything else gives no row). #}
{% macro explode_json_array(expr, alias) -%}
{{ return(adapter.dispatch('explode_json_array', 'healthdata')(expr, alias)) }}
{%- endmacro %}
{% macro default__explode_json_array(expr, alias) -%}
cross join lateral jsonb_array_elements(
    case when jsonb_typeof({{ expr }}) = 'array' then {{ expr }} else '[]'::jsonb end
) with ordinality as {{ alias }}(elem, idx)
{%- endmacro %}
{% macro duckdb__explode_json_array(expr, alias) -%}
cross join lateral (
    select
        unnest(json_extract(
            case when json_type({{ expr }}) = 'ARRAY' then {{ expr }} else '[]'::json end, '$[*]'
        )) as elem,
        generate_subscripts(json_extract(
            case when json_type({{ expr }}) = 'ARRAY' then {{ expr }} else '[]'::json end, '$[*]'
        ), 1) as idx
) as {{ alias }}
{%- endmacro %}
