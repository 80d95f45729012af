-- Every vendor's clinical events in one shape (the int_<vendor>__events contract),
-- with the person each belongs to. Soft-deleted events and patients are kept here,
-- flagged; the marts leave them out.
{%- set columns = [
    'event_id', 'vendor', 'patient_key', 'event_type', 'event_time', 'event_end_time', 'status',
    'code_system', 'code', 'display', 'value_number', 'value_text', 'unit', 'panel_code',
    'panel_display', 'reference_range_low', 'reference_range_high', 'dose', 'route',
    'encounter_key', 'source_table', 'source_key', 'is_deleted', '_batched_at'
] %}

with events as (
    {%- for vendor in ['painchek', 'humanapi', 'healthex'] %}
    select {{ columns | join(', ') }} from {{ ref('int_' ~ vendor ~ '__events') }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    crosswalk.person_id,
    events.*,
    cast(events.is_deleted or crosswalk.is_deleted as boolean) as is_excluded
from events
inner join {{ ref('person_crosswalk') }} as crosswalk
    on crosswalk.vendor = events.vendor and crosswalk.patient_key = events.patient_key
