-- Every vendor's clinical events in one shape (the int_<vendor>__events contract),
-- with the person each belongs to. Soft-deleted events and patients are kept here,
-- flagged; the marts leave them out.
{%- set columns = healthdata.event_columns() | map(attribute=0) | list %}

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
