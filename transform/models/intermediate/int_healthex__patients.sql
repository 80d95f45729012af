{#-
  One row per HealthEx patient (patient_key = HealthEx's patient id, which is
  identified_patients.id and the healthex_patient_id of the delivered resources).
  Identifiers, names and contacts come from the patient's preferred identified
  row (not loader-deleted, not withdrawn, newest updatedAt), falling back to its
  FHIR Patient resource; sex and death date from the FHIR Patient.
  is_deleted: withdrawn in every project it is listed in, or deleted by the loader
  everywhere.
-#}

with identified as (
    select * from {{ ref('stg_healthex__identified_patients') }}
),

identified_ranked as (
    select
        identified.*,
        row_number() over (
            partition by patient_id
            order by
                case when is_loader_deleted then 1 else 0 end,
                case when is_withdrawn then 1 else 0 end,
                updated_at desc nulls last,
                _batched_at desc nulls last,
                project_id
        ) as preference
    from identified
),

identified_summary as (
    select
        patient_id,
        max(case when is_withdrawn_everywhere then 1 else 0 end) as withdrawn_everywhere,
        min(case when is_loader_deleted then 1 else 0 end) as loader_deleted_everywhere,
        max(updated_at) as updated_at,
        max(_batched_at) as _batched_at
    from identified
    group by patient_id
),

fhir_ranked as (
    select
        patients.*,
        row_number() over (
            partition by healthex_patient_id
            order by
                case when is_deleted then 1 else 0 end,
                meta_last_updated desc nulls last,
                _batched_at desc nulls last,
                project_id,
                resource_id
        ) as preference
    from {{ ref('stg_healthex__patients') }} as patients
),

fhir as (
    select * from fhir_ranked where preference = 1
),

spine as (
    select patient_id from identified
    union
    select healthex_patient_id as patient_id from fhir
),

joined as (
    select
        spine.patient_id,
        preferred.external_id,
        preferred.reference_id,
        coalesce(preferred.first_name, fhir.given_name) as first_name,
        coalesce(preferred.last_name, fhir.family_name) as last_name,
        case when fhir.gender in ('female', 'male', 'other', 'unknown') then fhir.gender end as sex,
        coalesce(preferred.birth_date, fhir.birth_date) as birth_date,
        fhir.death_date,
        coalesce(preferred.email, fhir.email) as email,
        coalesce(preferred.phone, fhir.phone) as phone,
        case
            when summary.patient_id is not null
                then summary.withdrawn_everywhere = 1 or summary.loader_deleted_everywhere = 1
            else coalesce(fhir.is_deleted, false)
        end as is_deleted,
        summary.updated_at as identified_updated_at,
        fhir.meta_last_updated as fhir_updated_at,
        summary._batched_at as identified_batched_at,
        fhir._batched_at as fhir_batched_at
    from spine
    left join identified_ranked as preferred
        on preferred.patient_id = spine.patient_id and preferred.preference = 1
    left join identified_summary as summary
        on summary.patient_id = spine.patient_id
    left join fhir
        on fhir.healthex_patient_id = spine.patient_id
)

select
    cast('healthex' as {{ dbt.type_string() }}) as vendor,
    cast(patient_id as {{ dbt.type_string() }}) as patient_key,
    cast(external_id as {{ dbt.type_string() }}) as external_id,
    cast(reference_id as {{ dbt.type_string() }}) as reference_id,
    cast(first_name as {{ dbt.type_string() }}) as first_name,
    cast(last_name as {{ dbt.type_string() }}) as last_name,
    cast(sex as {{ dbt.type_string() }}) as sex,
    cast(birth_date as date) as birth_date,
    cast(death_date as date) as death_date,
    cast(email as {{ dbt.type_string() }}) as email,
    cast(phone as {{ dbt.type_string() }}) as phone,
    cast(is_deleted as boolean) as is_deleted,
    cast(case
        when fhir_updated_at is null or identified_updated_at >= fhir_updated_at then coalesce(identified_updated_at, fhir_updated_at)
        else fhir_updated_at
    end as {{ dbt.type_timestamp() }}) as updated_at,
    cast(case
        when fhir_batched_at is null or identified_batched_at >= fhir_batched_at then coalesce(identified_batched_at, fhir_batched_at)
        else fhir_batched_at
    end as {{ dbt.type_timestamp() }}) as _batched_at
from joined
