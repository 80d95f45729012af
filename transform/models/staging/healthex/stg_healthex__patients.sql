{#- FHIR Patient resources from the delivered bundles, the current version of each: see
    fhir_staging_model (macros/fhir_staging.sql). A retrieval repeats the Patient unchanged. -#}

{#- the first email and the first phone of telecom[] (by position) -#}
{%- set ctes %}
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
)
{%- endset %}

{%- set columns %}
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
    cast(phone.contact_value as {{ dbt.type_string() }}) as phone
{%- endset %}

{%- set joins %}
left join telecom as email
    on email.project_id = s.project_id and email.healthex_patient_id = s.healthex_patient_id
    and email.id = s.id and email.contact_system = 'email'
left join telecom as phone
    on phone.project_id = s.project_id and phone.healthex_patient_id = s.healthex_patient_id
    and phone.id = s.id and phone.contact_system = 'phone'
{%- endset %}

{{ healthdata.fhir_staging_model('patient', columns, encounter_reference=none, ctes=ctes, joins=joins) }}
