{#-
  HealthEx identified patients: one row per (project_id, id), the current version
  (newest updatedAt, then newest batch). A patient may be identified in several
  projects: kept once per project here. is_deleted: the loader deleted the row, or
  the patient withdrew in every project it is (still) listed in.
-#}
{%- set src = source('healthex', 'identified_patients') %}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['project_id', 'id'], ['"updatedAt"', batched_at(src)]) }}
),

renamed as (
    select
        cast(project_id as {{ dbt.type_string() }}) as project_id,
        cast(id as {{ dbt.type_string() }}) as patient_id,
        cast(nullif(trim("externalId"), '') as {{ dbt.type_string() }}) as external_id,
        cast(nullif(trim("referenceId"), '') as {{ dbt.type_string() }}) as reference_id,
        cast(nullif(trim("firstName"), '') as {{ dbt.type_string() }}) as first_name,
        cast(nullif(trim("lastName"), '') as {{ dbt.type_string() }}) as last_name,
        {{ to_date('"dateOfBirth"') }} as birth_date,
        cast(nullif(trim("email"), '') as {{ dbt.type_string() }}) as email,
        cast(nullif(trim("phone"), '') as {{ dbt.type_string() }}) as phone,
        cast(upper(trim("status")) as {{ dbt.type_string() }}) as status,
        cast("createdAt" as {{ dbt.type_timestamp() }}) as created_at,
        cast("updatedAt" as {{ dbt.type_timestamp() }}) as updated_at,
        {{ loader_deleted(src) }} as is_loader_deleted,
        cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
    from current_version
),

flagged as (
    select
        renamed.*,
        -- 1 when every row of the patient the loader still has is WITHDRAWN; NULL when none
        min(case when is_loader_deleted then null when status = 'WITHDRAWN' then 1 else 0 end)
            over (partition by patient_id) as withdrawn_everywhere_flag
    from renamed
)

select
    project_id,
    patient_id,
    external_id,
    reference_id,
    first_name,
    last_name,
    birth_date,
    email,
    phone,
    status,
    created_at,
    updated_at,
    cast(coalesce(status = 'WITHDRAWN', false) as boolean) as is_withdrawn,
    cast(coalesce(withdrawn_everywhere_flag = 1, false) as boolean) as is_withdrawn_everywhere,
    cast(is_loader_deleted as boolean) as is_loader_deleted,
    cast(is_loader_deleted or coalesce(withdrawn_everywhere_flag = 1, false) as boolean) as is_deleted,
    _batched_at
from flagged
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
