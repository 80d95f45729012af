-- PainChek patients in the shape every vendor's patients share (see the crosswalk).
-- Training records (patients made to practise the app) are not people: left out.
select
    cast('painchek' as {{ dbt.type_string() }}) as vendor,
    patient_uuid as patient_key,
    external_id,
    first_name,
    last_name,
    sex,
    birth_date,
    death_date,
    cast(null as {{ dbt.type_string() }}) as email,
    cast(null as {{ dbt.type_string() }}) as phone,
    is_deleted,
    modified_at as updated_at,
    _batched_at
from {{ ref('stg_painchek__patients') }}
where not is_training_record
