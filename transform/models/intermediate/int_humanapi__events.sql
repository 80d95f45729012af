-- Human API clinical events in the shape every vendor's events share (one row per event):
--   vital        vitals results[] (one per measurement) and the wellness readings; a blood
--                pressure reading is two events, systolic (LOINC 8480-6, entry 1) and
--                diastolic (8462-4, entry 2), plus its heart rate (8867-4, entry 3) when sent;
--                readings carry the LOINC code of their kind (they have none of their own)
--   lab          test_results components[] (one per analyte), panel = the test
--   medication   medications (start/end, dose, route)
--   condition    issues
--   encounter    encounters (encounter_key = the encounter's own key)
--   procedure    procedures
--   immunization immunizations, one per date in `dates` (one without dates: one event, no time)
--   allergy      allergies (value_text = the first reaction)
-- is_deleted: the record's loader deletion, or its user deleted (admin status 'deleted').
-- No names, birth dates, emails, phones or addresses here (no provider names either).
{%- set columns = healthdata.event_columns() -%}
{%- set key = "r.human_id || ':' || r.id" -%}
{#- LOINC code and display of each kind of wellness reading (blood pressure: below). -#}
{%- set reading_codes = {
    'heart_rate': ("'8867-4'", "'Heart rate'"),
    'weight': ("'29463-7'", "'Body weight'"),
    'height': ("'8302-2'", "'Body height'"),
    'bmi': ("'39156-5'", "'Body mass index (BMI) [Ratio]'"),
    'body_fat': ("'41982-0'", "'Percentage of body fat Measured'"),
    'blood_glucose': (
        "case when lower(r.unit) like 'mmol%' then '15074-8' else '2339-0' end",
        "case when lower(r.unit) like 'mmol%' then 'Glucose [Moles/volume] in Blood' else 'Glucose [Mass/volume] in Blood' end"),
    'blood_oxygen': ("'59408-5'", "'Oxygen saturation in Arterial blood by Pulse oximetry'"),
} -%}
{%- set reading_code_expr -%}
case r.reading_type{% for t, c in reading_codes.items() %} when '{{ t }}' then {{ c[0] }}{% endfor %} end
{%- endset -%}
{%- set reading_display_expr -%}
case r.reading_type{% for t, c in reading_codes.items() %} when '{{ t }}' then {{ c[1] }}{% endfor %} end
{%- endset -%}
{%- set bp_parts = [
    (1, 'systolic', "'8480-6'", "'Systolic blood pressure'"),
    (2, 'diastolic', "'8462-4'", "'Diastolic blood pressure'"),
    (3, 'heart_rate', "'8867-4'", "'Heart rate'"),
] -%}

{%- set parts = [] -%}

{#- vitals: one per results[] entry (a set without results has a placeholder row, entry_index NULL: skipped) -#}
{%- do parts.append({
    'from': ref('stg_humanapi__vital_results') ~ ' as r',
    'where': 'r.entry_index is not null',
    'event_id': "'humanapi:vitals:' || " ~ key ~ " || ':' || cast(r.entry_index as " ~ dbt.type_string() ~ ")",
    'event_type': "'vital'", 'event_time': 'r.vital_time',
    'code_system': 'r.code_system', 'code': 'r.code', 'display': 'coalesce(r.code_display, r.name)',
    'value_number': 'r.value_number', 'value_text': 'r.value_text', 'unit': 'r.unit',
    'source_table': "'vitals'",
}) -%}

{#- wellness readings but blood pressure -#}
{%- do parts.append({
    'from': ref('stg_humanapi__readings') ~ " as r",
    'where': "r.reading_type <> 'blood_pressure'",
    'event_id': "'humanapi:' || r.reading_type || ':' || " ~ key,
    'event_type': "'vital'", 'event_time': 'r.measured_at',
    'code_system': "'LOINC'", 'code': reading_code_expr, 'display': reading_display_expr,
    'value_number': 'r.value_number', 'unit': 'r.unit',
    'source_table': 'r.reading_type',
}) -%}

{#- blood pressure: systolic, diastolic (and heart rate) -#}
{%- for index, column, code, display in bp_parts -%}
{%- do parts.append({
    'from': ref('stg_humanapi__readings') ~ " as r",
    'where': "r.reading_type = 'blood_pressure'" ~ (" and r.heart_rate is not null" if column == 'heart_rate' else ""),
    'event_id': "'humanapi:blood_pressure:' || " ~ key ~ " || ':" ~ index ~ "'",
    'event_type': "'vital'", 'event_time': 'r.measured_at',
    'code_system': "'LOINC'", 'code': code, 'display': display,
    'value_number': 'r.' ~ column,
    'unit': ("'/min'" if column == 'heart_rate' else 'r.unit'),
    'source_table': "'blood_pressure'",
}) -%}
{%- endfor -%}

{#- labs: one per components[] entry (a panel without components: placeholder row skipped) -#}
{%- do parts.append({
    'from': ref('stg_humanapi__test_result_components') ~ ' as r',
    'where': 'r.entry_index is not null',
    'event_id': "'humanapi:test_results:' || " ~ key ~ " || ':' || cast(r.entry_index as " ~ dbt.type_string() ~ ")",
    'event_type': "'lab'", 'event_time': 'r.result_time', 'status': 'r.status',
    'code_system': 'r.code_system', 'code': 'r.code', 'display': 'coalesce(r.code_display, r.component_name)',
    'value_number': 'r.value_number', 'value_text': 'r.value_text', 'unit': 'r.unit',
    'panel_code': 'r.panel_code', 'panel_display': 'coalesce(r.panel_name, r.panel_code_display)',
    'reference_range_low': 'r.reference_range_low', 'reference_range_high': 'r.reference_range_high',
    'source_table': "'test_results'",
}) -%}

{%- do parts.append({
    'from': ref('stg_humanapi__medications') ~ ' as r',
    'event_id': "'humanapi:medications:' || " ~ key,
    'event_type': "'medication'", 'event_time': 'r.start_date', 'event_end_time': 'r.end_date', 'status': 'r.status',
    'code_system': 'r.code_system', 'code': 'r.code', 'display': 'coalesce(r.code_display, r.name)',
    'dose': 'r.dose', 'route': 'r.route',
    'source_table': "'medications'",
}) -%}

{%- do parts.append({
    'from': ref('stg_humanapi__issues') ~ ' as r',
    'event_id': "'humanapi:issues:' || " ~ key,
    'event_type': "'condition'", 'event_time': 'r.noted_at', 'status': 'r.status',
    'code_system': 'r.code_system', 'code': 'r.code', 'display': 'coalesce(r.code_display, r.name)',
    'source_table': "'issues'",
}) -%}

{%- do parts.append({
    'from': ref('stg_humanapi__encounters') ~ ' as r',
    'event_id': "'humanapi:encounters:' || " ~ key,
    'event_type': "'encounter'", 'event_time': 'r.encounter_time',
    'code_system': 'r.code_system', 'code': 'r.code', 'display': 'coalesce(r.visit_type, r.code_display)',
    'encounter_key': key,
    'source_table': "'encounters'",
}) -%}

{%- do parts.append({
    'from': ref('stg_humanapi__procedures') ~ ' as r',
    'event_id': "'humanapi:procedures:' || " ~ key,
    'event_type': "'procedure'", 'event_time': 'r.performed_at',
    'code_system': 'r.code_system', 'code': 'r.code', 'display': 'coalesce(r.code_display, r.name)',
    'source_table': "'procedures'",
}) -%}

{#- immunizations: one per date; one without dates gives one event without a time -#}
{%- do parts.append({
    'from': ref('stg_humanapi__immunizations') ~ ' as r ' ~ explode_json_array(healthdata.json_from_text('r.dates_json'), 'd'),
    'event_id': "'humanapi:immunizations:' || " ~ key ~ " || ':' || cast(d.idx as " ~ dbt.type_string() ~ ")",
    'event_type': "'immunization'", 'event_time': to_utc_timestamp(json_text('d.elem', [])),
    'code_system': 'r.code_system', 'code': 'r.code', 'display': 'coalesce(r.code_display, r.name)',
    'source_table': "'immunizations'",
}) -%}
{%- do parts.append({
    'from': ref('stg_humanapi__immunizations') ~ ' as r',
    'where': 'r.dose_count = 0',
    'event_id': "'humanapi:immunizations:' || " ~ key,
    'event_type': "'immunization'",
    'code_system': 'r.code_system', 'code': 'r.code', 'display': 'coalesce(r.code_display, r.name)',
    'source_table': "'immunizations'",
}) -%}

{%- do parts.append({
    'from': ref('stg_humanapi__allergies') ~ ' as r',
    'event_id': "'humanapi:allergies:' || " ~ key,
    'event_type': "'allergy'", 'event_time': 'r.start_date', 'event_end_time': 'r.end_date', 'status': 'r.status',
    'code_system': 'r.code_system', 'code': 'r.code', 'display': 'coalesce(r.code_display, r.allergen_name, r.name)',
    'value_text': 'r.reaction_name',
    'source_table': "'allergies'",
}) %}

with users as (
    select human_id, is_deleted from {{ ref('stg_humanapi__users') }}
),

events as (
{%- for part in parts %}
    select
    {%- for column, type in columns %}
        {%- if column == 'vendor' %}
        cast('humanapi' as {{ type }}) as vendor
        {%- elif column == 'patient_key' %}
        cast(r.human_id as {{ type }}) as patient_key
        {%- elif column == 'source_key' %}
        cast({{ key }} as {{ type }}) as source_key
        {%- elif column == 'is_deleted' %}
        cast(r.is_deleted or coalesce(u.is_deleted, false) as {{ type }}) as is_deleted
        {%- elif column == '_batched_at' %}
        cast(r._batched_at as {{ type }}) as _batched_at
        {%- else %}
        cast({{ part.get(column, 'null') }} as {{ type }}) as {{ column }}
        {%- endif %}{% if not loop.last %},{% endif %}
    {%- endfor %}
    from {{ part['from'] }}
    left join users as u on u.human_id = r.human_id
    {%- if part.get('where') %}
    where {{ part['where'] }}
    {%- endif %}
    {% if not loop.last %}union all{% endif %}
{%- endfor %}
)

select * from events
