{#
  A vendor whose tables are not in the warehouse yet (a new project that has loaded
  one tap so far, or a team that uses one vendor) must not fail the build: each
  staging model reads its source only if it is there, and otherwise gives no rows, with
  the columns (and data_type) its YAML declares.

      {% if healthdata.source_exists(source('humanapi', 'vitals')) %} ... {% else %}
      {{ healthdata.no_rows() }} {% endif %}
#}
{% macro source_exists(relation) -%}
    {%- if not execute -%}{{ return(true) }}{%- endif -%}
    {%- set found = adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier
    ) -%}
    {{ return(found is not none) }}
{%- endmacro %}

{% macro no_rows() -%}
    {%- set columns = model.columns.values() | list -%}
    {%- if not columns -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": declare its columns (with data_type) in YAML; they are its shape when its source is not loaded") }}
    {%- endif -%}
select
    {%- for column in columns %}
    cast(null as {{ column.data_type or exceptions.raise_compiler_error(model.name ~ "." ~ column.name ~ ": no data_type in YAML") }}) as {{ column.name }}{% if not loop.last %},{% endif %}
    {%- endfor %}
where 1 = 0
{%- endmacro %}
