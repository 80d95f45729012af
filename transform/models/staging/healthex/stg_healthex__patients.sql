{#-
  FHIR Patient resources from the delivered bundles: one row per
  (project_id, healthex_patient_id, resource_id), the current version (newest
  meta.lastUpdated, then newest batch). A retrieval repeats the Patient unchanged.
-#}
{%- set src = source('healthex', 'patient') %}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['project_id', 'healthex_patient_id', 'id'], ['meta_last_updated', batched_at(src)]) }}
),

source_rows as (
    select
        current_version.*,
        {{ loader_deleted(src) }} as is_loader_deleted,
        cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
    from current_version
),

-- the first email and the first phone of telecom[] (by position)
telecom as (
    select project_id, healthex_patient_id, id, contact_system, contact_value
    from (
        select
            s.project_id,
            s.healthex_patient_id,
            s.id,
            lower({{ json_text('t.elem', ['system']) }}) as contact_system,
            {{ json_text('t.elem', ['value']) }} as contact_value,
            row_number() over (
                partition by s.project_id, s.healthex_patient_id, s.id, lower({{ json_text('t.elem', ['system']) }})
                order by t.idx
            ) as position
        from source_rows as s
        {{ explode_json_array(json_get('s.resource', ['telecom']), 't') }}
        where nullif(trim({{ json_text('t.elem', ['value']) }}), '') is not null
    ) as contacts
    where position = 1 and contact_system in ('email', 'phone')
),

withdrawn as (
    select distinct patient_id, is_withdrawn_everywhere
    from {{ ref('stg_healthex__identified_patients') }}
)

select
    cast(s.project_id as {{ dbt.type_string() }}) as project_id,
    cast(s.healthex_patient_id as {{ dbt.type_string() }}) as healthex_patient_id,
    cast(s.id as {{ dbt.type_string() }}) as resource_id,
    cast(s.retrieval_id as {{ dbt.type_string() }}) as retrieval_id,
    cast(coalesce(s.given, {{ json_text('s.resource', ['name', 0, 'given', 0]) }}) as {{ dbt.type_string() }}) as given_name,
    cast(coalesce(s.family, {{ json_text('s.resource', ['name', 0, 'family']) }}) as {{ dbt.type_string() }}) as family_name,
    cast(lower(coalesce(s.gender, {{ json_text('s.resource', ['gender']) }})) as {{ dbt.type_string() }}) as gender,
    {{ to_date("coalesce(s.birth_date, " ~ json_text('s.resource', ['birthDate']) ~ ")") }} as birth_date,
    {{ to_date(json_text('s.resource', ['deceasedDateTime'])) }} as death_date,
    cast(
        coalesce(lower({{ json_text('s.resource', ['deceasedBoolean']) }}) = 'true', false)
        or {{ json_text('s.resource', ['deceasedDateTime']) }} is not null
        as boolean
    ) as is_deceased,
    cast(email.contact_value as {{ dbt.type_string() }}) as email,
    cast(phone.contact_value as {{ dbt.type_string() }}) as phone,
    cast(s.meta_last_updated as {{ dbt.type_timestamp() }}) as meta_last_updated,
    cast(coalesce(withdrawn.is_withdrawn_everywhere, false) as boolean) as is_patient_withdrawn,
    cast(s.is_loader_deleted as boolean) as is_loader_deleted,
    cast(s.is_loader_deleted or coalesce(withdrawn.is_withdrawn_everywhere, false) as boolean) as is_deleted,
    s._batched_at
from source_rows as s
left join telecom as email
    on email.project_id = s.project_id and email.healthex_patient_id = s.healthex_patient_id
    and email.id = s.id and email.contact_system = 'email'
left join telecom as phone
    on phone.project_id = s.project_id and phone.healthex_patient_id = s.healthex_patient_id
    and phone.id = s.id and phone.contact_system = 'phone'
left join withdrawn
    on withdrawn.patient_id = s.healthex_patient_id
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
