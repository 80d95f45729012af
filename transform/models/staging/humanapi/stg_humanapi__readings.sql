{#-
  Human API wellness readings of eight streams in one model: one row per
  (reading_type, human_id, id), reading_type the stream (blood_pressure, heart_rate,
  weight, height, bmi, body_fat, blood_glucose, blood_oxygen).
  Blood pressure has no `value`: its systolic and diastolic (and the heart rate taken
  with it) are columns and value_number is NULL; the events make two rows of it.
  A number sent as text is kept by the tap in extra_fields (the column is null): read there too.
  A stream whose table is not loaded yet is left out of the union (none loaded: no rows).
-#}
{%- set streams = {
    'blood_pressure': ['systolic', 'diastolic', 'heartRate'],
    'heart_rate': ['value'],
    'weight': ['value'],
    'height': ['value'],
    'bmi': ['value'],
    'body_fat': ['value'],
    'blood_glucose': ['value', 'notes', 'mealTag', 'medicationTag'],
    'blood_oxygen': ['value', 'notes'],
} -%}
{%- set numbers = [('value', 'value_number'), ('systolic', 'systolic'), ('diastolic', 'diastolic'), ('heartRate', 'heart_rate')] -%}
{%- set texts = [('mealTag', 'meal_tag'), ('medicationTag', 'medication_tag'), ('notes', 'notes')] -%}
{%- set present = healthdata.present_sources('humanapi', streams.keys() | list) -%}

{% if present %}
with
{%- for stream in present %}
{%- set fields = streams[stream] %}
{%- set src = source('humanapi', stream) %}
{{ stream }}_current as (
    {{ current_rows(src, ['human_id', 'id'], ['"updatedAt"', batched_at(src)]) }}
),

{{ stream }}_readings as (
    select
        cast('{{ stream }}' as {{ dbt.type_string() }}) as reading_type,
        {{ healthdata.humanapi_columns([
            'human_id', 'id', 'client_user_id', 'source', 'timestamp:timestamp:measured_at', 'tzOffset',
        ]) }},
        {%- for column, alias in numbers %}
        {%- if column in fields %}
        cast(coalesce(
            cast({{ adapter.quote(column) }} as double precision),
            {{ safe_number(json_text('extra_fields', [column])) }}
        ) as double precision) as {{ alias }},
        {%- else %}
        cast(null as double precision) as {{ alias }},
        {%- endif %}
        {%- endfor %}
        cast(unit as {{ dbt.type_string() }}) as unit,
        {%- for column, alias in texts %}
        {%- if column in fields %}
        cast({{ adapter.quote(column) }} as {{ dbt.type_string() }}) as {{ alias }},
        {%- else %}
        cast(null as {{ dbt.type_string() }}) as {{ alias }},
        {%- endif %}
        {%- endfor %}
        {{ healthdata.humanapi_columns(['created_at', 'updated_at', 'is_deleted', '_batched_at'], src) }}
    from {{ stream }}_current
){% if not loop.last %},{% endif %}
{%- endfor %}

{% for stream in present %}
select * from {{ stream }}_readings
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
