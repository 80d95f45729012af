-- Tuva input layer `patient`: one row per vendor patient (person_id, patient_id,
-- data_source). Soft-deleted patients are left out.
select
    crosswalk.person_id,
    {{ tuva_patient_id('p.vendor', 'p.patient_key') }} as patient_id,
    cast(null as {{ dbt.type_string() }}) as name_suffix,
    cast(p.first_name as {{ dbt.type_string() }}) as first_name,
    cast(null as {{ dbt.type_string() }}) as middle_name,
    cast(p.last_name as {{ dbt.type_string() }}) as last_name,
    cast(p.sex as {{ dbt.type_string() }}) as sex,
    cast(null as {{ dbt.type_string() }}) as race,
    p.birth_date,
    p.death_date,
    cast(case when p.death_date is not null then 1 else 0 end as {{ dbt.type_int() }}) as death_flag,
    {{ tuva_unmapped(['social_security_number', 'address', 'city', 'state', 'zip_code', 'county']) }}
    cast(null as double precision) as latitude,
    cast(null as double precision) as longitude,
    cast(p.phone as {{ dbt.type_string() }}) as phone,
    cast(p.email as {{ dbt.type_string() }}) as email,
    cast(null as {{ dbt.type_string() }}) as ethnicity,
    {{ tuva_lineage('p.vendor', 'p._batched_at', "'patients'") }}
from (
    {%- for vendor in ['painchek', 'humanapi', 'healthex'] %}
    select vendor, patient_key, first_name, last_name, sex, birth_date, death_date, phone, email,
        is_deleted, _batched_at
    from {{ ref('int_' ~ vendor ~ '__patients') }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
) as p
inner join {{ ref('person_crosswalk') }} as crosswalk
    on crosswalk.vendor = p.vendor and crosswalk.patient_key = p.patient_key
where not p.is_deleted
