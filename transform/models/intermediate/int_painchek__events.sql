-- PainChek's clinical events: one pain assessment each. PainChek scores have no
-- standard code; the code is the assessment mode (`painchek`: the PainChek scale from
-- the face and behaviour domains; `nrs`: a numeric rating scale), the value the score
-- and the text the pain level.
select
    cast('painchek:assessments:' || a.assessment_uuid as {{ dbt.type_string() }}) as event_id,
    cast('painchek' as {{ dbt.type_string() }}) as vendor,
    a.patient_uuid as patient_key,
    cast('pain_assessment' as {{ dbt.type_string() }}) as event_type,
    a.assessed_at as event_time,
    cast(null as {{ dbt.type_timestamp() }}) as event_end_time,
    cast('final' as {{ dbt.type_string() }}) as status,
    cast('PainChek' as {{ dbt.type_string() }}) as code_system,
    a.assessment_mode as code,
    cast(case a.assessment_mode
        when 'painchek' then 'PainChek pain assessment'
        when 'nrs' then 'Numeric rating scale pain score'
        else 'Pain assessment' end as {{ dbt.type_string() }}) as display,
    a.pain_score as value_number,
    a.pain_level as value_text,
    cast('{score}' as {{ dbt.type_string() }}) as unit,
    cast(null as {{ dbt.type_string() }}) as panel_code,
    cast(null as {{ dbt.type_string() }}) as panel_display,
    cast(null as {{ dbt.type_string() }}) as reference_range_low,
    cast(null as {{ dbt.type_string() }}) as reference_range_high,
    cast(null as {{ dbt.type_string() }}) as dose,
    cast(null as {{ dbt.type_string() }}) as route,
    cast(null as {{ dbt.type_string() }}) as encounter_key,
    cast('assessments' as {{ dbt.type_string() }}) as source_table,
    a.assessment_uuid as source_key,
    cast(a.is_deleted or p.is_deleted as boolean) as is_deleted,
    a._batched_at
from {{ ref('stg_painchek__assessments') }} as a
inner join {{ ref('stg_painchek__patients') }} as p
    on p.patient_uuid = a.patient_uuid and not p.is_training_record
