-- One row per clinical event from all three vendors, in the person's order of time:
-- a PainChek pain score next to a Human API vital and a HealthEx FHIR observation.
-- No names, birth dates or contact details: person_id is a hash, and the source key
-- leads back to the raw row for those allowed to read it.
select
    event_id,
    person_id,
    vendor,
    event_time,
    event_end_time,
    event_type,
    status,
    code_system,
    code,
    display,
    value_number,
    value_text,
    unit,
    source_table,
    source_key
from {{ ref('int_clinical_events') }}
where not is_excluded
