{{ config(materialized='incremental', unique_key='assessment_uuid', incremental_strategy='delete+insert') }}

-- PainChek assessments, one row each (the current version by update_stamp), with the
-- score the assessment's `data.assessment` section holds unpacked. The tap promotes
-- those fields to columns; a record whose sections sit at the top level
-- (`assessment`) instead of inside `data` is read from there.
{% set src = source('painchek', 'assessments') -%}

{% call healthdata.painchek_staging(src) %},

loaded as (
    select *, {{ batched_at(src) }} as _batched_at
    from current_version
)

select
    {{ healthdata.painchek_columns(['uuid'], entity='assessment') }},
    cast(patient as {{ dbt.type_string() }}) as patient_uuid,
    cast("user" as {{ dbt.type_string() }}) as assessor_uuid,
    cast(coalesce(
        assessed_at,
        {{ to_utc_timestamp(json_text('data', ['assessment', 'date'])) }},
        {{ to_utc_timestamp(json_text('assessment', ['date'])) }},
        created_at
    ) as {{ dbt.type_timestamp() }}) as assessed_at,
    cast(coalesce(
        mode, {{ json_text('data', ['assessment', 'mode']) }}, {{ json_text('assessment', ['mode']) }}
    ) as {{ dbt.type_string() }}) as assessment_mode,
    cast(coalesce(
        cast(pain_score as double precision),
        {{ safe_number(json_text('data', ['assessment', 'pain_score'])) }},
        {{ safe_number(json_text('assessment', ['pain_score'])) }}
    ) as double precision) as pain_score,
    cast(coalesce(
        pain_level,
        {{ json_text('data', ['assessment', 'pain_level']) }},
        {{ json_text('assessment', ['pain_level']) }}
    ) as {{ dbt.type_string() }}) as pain_level,
    cast(coalesce(
        timing, {{ json_text('data', ['assessment', 'timing']) }}, {{ json_text('assessment', ['timing']) }}
    ) as {{ dbt.type_string() }}) as timing,
    cast(json_version as {{ dbt.type_string() }}) as json_version,
    {{ healthdata.painchek_columns(['license', 'created_at', 'modified_at', 'is_deleted'], src) }},
    cast(update_stamp as {{ dbt.type_bigint() }}) as update_stamp,
    cast(_batched_at as {{ dbt.type_timestamp() }}) as _batched_at
from loaded
{{ loaded_since_last_build('_batched_at') }}
{% endcall %}
