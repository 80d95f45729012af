{#- PainChek patients: the current version of each (by update_stamp), soft deletes flagged. -#}
{%- set src = source('painchek', 'patients') -%}

{% call healthdata.painchek_staging(src) %}
select
    {{ healthdata.painchek_columns(['uuid'], entity='patient') }},
    cast(nullif(trim(external_id), '') as {{ dbt.type_string() }}) as external_id,
    cast(first_name as {{ dbt.type_string() }}) as first_name,
    cast(last_name as {{ dbt.type_string() }}) as last_name,
    cast(case lower(gender) when 'f' then 'female' when 'm' then 'male'
        when 'x' then 'other' else 'unknown' end as {{ dbt.type_string() }}) as sex,
    {{ to_date('birth_date') }} as birth_date,
    {{ to_date('death_date') }} as death_date,
    {{ healthdata.painchek_columns(['license']) }},
    cast(coalesce(training_record, false) as boolean) as is_training_record,
    {{ healthdata.painchek_columns(['created_at', 'modified_at', 'deleted_at', 'deleted_reason', 'is_deleted'], src) }},
    cast(update_stamp as {{ dbt.type_bigint() }}) as update_stamp,
    {{ healthdata.painchek_columns(['_batched_at'], src) }}
from current_version
{% endcall %}
