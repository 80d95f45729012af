{#-
  The int_<vendor>__events contract: every vendor's events have these columns, in this
  order and of these types, so int_clinical_events can union them. (name, type) pairs.
-#}
{% macro event_columns() -%}
{%- set s, ts = dbt.type_string(), dbt.type_timestamp() -%}
{{ return([
    ('event_id', s), ('vendor', s), ('patient_key', s), ('event_type', s),
    ('event_time', ts), ('event_end_time', ts), ('status', s), ('code_system', s),
    ('code', s), ('display', s), ('value_number', 'double precision'), ('value_text', s),
    ('unit', s), ('panel_code', s), ('panel_display', s), ('reference_range_low', s),
    ('reference_range_high', s), ('dose', s), ('route', s), ('encounter_key', s),
    ('source_table', s), ('source_key', s), ('is_deleted', 'boolean'), ('_batched_at', ts),
]) }}
{%- endmacro %}
