{#
  The current version of each row of `relation`: one row per key, the one that sorts
  first by `newest_first` (each a column or expression, sorted descending, NULLs
  last). Append-only loads (and at-least-once delivery) leave older versions and
  duplicates behind; upserting loaders leave one row, which this keeps.
#}
{% macro current_rows(relation, key, newest_first) -%}
{{ return(adapter.dispatch('current_rows', 'healthdata')(relation, key, newest_first)) }}
{%- endmacro %}

{% macro default__current_rows(relation, key, newest_first) -%}
select distinct on ({{ key | join(', ') }}) *
from {{ relation }}
order by {{ key | join(', ') }}{% for column in newest_first %}, {{ column }} desc nulls last{% endfor %}
{%- endmacro %}

{% macro snowflake__current_rows(relation, key, newest_first) -%}
select *
from {{ relation }}
qualify row_number() over (
    partition by {{ key | join(', ') }}
    order by {% for column in newest_first %}{{ column }} desc nulls last{% if not loop.last %}, {% endif %}{% endfor %}
) = 1
{%- endmacro %}

{# The loader's batch time, where the loader adds it (NULL otherwise). #}
{% macro batched_at(relation) -%}
{%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
{%- if '_sdc_batched_at' in columns -%}_sdc_batched_at{%- else -%}cast(null as timestamp){%- endif -%}
{%- endmacro %}

{# Whether the loader marked the row deleted (_sdc_deleted_at), where it can. #}
{% macro loader_deleted(relation) -%}
{%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
{%- if '_sdc_deleted_at' in columns -%}(_sdc_deleted_at is not null){%- else -%}false{%- endif -%}
{%- endmacro %}

{#
  The filter of an incremental model: rows the loader wrote since the last build,
  less `incremental_lookback_hours`, so a batch that committed late is still read.
  On a full build (or a table that is not there yet) every row.
#}
{% macro loaded_since_last_build(batched_at_column='_batched_at') -%}
{%- if is_incremental() -%}
where {{ batched_at_column }} is null
   or {{ batched_at_column }} >= (
        select coalesce(max({{ batched_at_column }}), cast('1970-01-01' as timestamp))
        from {{ this }}
      ) - interval '{{ var("incremental_lookback_hours") }} hours'
{%- endif -%}
{%- endmacro %}
