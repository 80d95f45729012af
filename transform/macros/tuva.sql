{#- The Tuva Project's name of a code system (its *_code_type columns). -#}
{% macro tuva_code_type(code_system) -%}
(case
    when {{ code_system }} is null then null
    when {{ code_system }} = 'CPT' then 'hcpcs'
    when {{ code_system }} = 'PainChek' then 'painchek'
    else lower({{ code_system }})
end)
{%- endmacro %}

{# The columns every Tuva input-layer table ends with. #}
{% macro tuva_lineage(vendor='vendor', batched_at='_batched_at', source_table='source_table') -%}
    cast({{ vendor }} as {{ dbt.type_string() }}) as data_source,
    cast({{ source_table }} as {{ dbt.type_string() }}) as file_name,
    cast({{ batched_at }} as {{ dbt.type_timestamp() }}) as ingest_datetime
{%- endmacro %}

{# Tuva's patient_id: the vendor's patient id, unique across vendors. #}
{% macro tuva_patient_id(vendor='vendor', patient_key='patient_key') -%}
cast({{ vendor }} || ':' || {{ patient_key }} as {{ dbt.type_string() }})
{%- endmacro %}

{# The event's code as Tuva's source_code_type, source_code and source_description. #}
{% macro tuva_source_code() -%}
    cast({{ tuva_code_type('code_system') }} as {{ dbt.type_string() }}) as source_code_type,
    cast(code as {{ dbt.type_string() }}) as source_code,
    cast(display as {{ dbt.type_string() }}) as source_description
{%- endmacro %}

{# Tuva columns these vendors have nothing for: NULL, each followed by a comma. #}
{% macro tuva_unmapped(columns, type=none) -%}
    {%- for column in columns %}
    cast(null as {{ type or dbt.type_string() }}) as {{ column }},
    {%- endfor %}
{%- endmacro %}
