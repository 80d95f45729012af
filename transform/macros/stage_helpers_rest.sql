{#-
  Helpers of the one-per-stream staging models (stg_<vendor>__<stream> of the streams
  no mart reads yet). Their JSON columns are declared `text` in YAML (a missing source
  gives no_rows(), which only knows the listed types): json_from_text()
  (macros/staging_helpers.sql) reads one back as JSON.
-#}

{#
  A JSON column (object, or a top-level array: jsonb[] / text[] in PostgreSQL, JSON in
  DuckDB) as JSON text: '[{"code": ...}]', not PostgreSQL's '{"{...}"}' array literal.
#}
{% macro json_column_text(column) -%}
{{ return(adapter.dispatch('json_column_text', 'healthdata')(column)) }}
{%- endmacro %}
{% macro default__json_column_text(column) -%}
cast(to_jsonb({{ column }}) as text)
{%- endmacro %}
{% macro duckdb__json_column_text(column) -%}
cast({{ column }} as varchar)
{%- endmacro %}

{#
  A number column, or (where the tap kept a value of another type, e.g. "12" as text,
  in extra_fields under the column's name) that value read as a number. `column` is the
  vendor's name, unquoted.
#}
{% macro number_column(column, type, has_extra_fields=true) -%}
{%- if has_extra_fields -%}
cast(coalesce(
            cast({{ adapter.quote(column) }} as {{ type }}),
            cast({{ safe_number(json_text('extra_fields', [column])) }} as {{ type }})
        ) as {{ type }})
{%- else -%}
cast({{ adapter.quote(column) }} as {{ type }})
{%- endif -%}
{%- endmacro %}

{# A FHIR dateTime (possibly partial: "2019", "2019-04", read as its first day) as a UTC timestamp. #}
{% macro fhir_timestamp(expr) -%}
cast({{ to_utc_timestamp("(case when length(" ~ expr ~ ") = 4 then " ~ expr ~ " || '-01-01' when length(" ~ expr ~ ") = 7 then " ~ expr ~ " || '-01' else " ~ expr ~ " end)") }} as {{ dbt.type_timestamp() }})
{%- endmacro %}
