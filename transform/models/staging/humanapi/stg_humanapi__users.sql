{#- The Human API users of the app (admin users list): one row per humanId. -#}
{%- set src = source('humanapi', 'users') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['"humanId"'], ['"updatedAt"', batched_at(src)]) }}
)

select
    cast("humanId" as {{ dbt.type_string() }}) as human_id,
    cast("clientUserId" as {{ dbt.type_string() }}) as client_user_id,
    cast("clientUserEmail" as {{ dbt.type_string() }}) as client_user_email,
    cast("firstName" as {{ dbt.type_string() }}) as first_name,
    cast("lastName" as {{ dbt.type_string() }}) as last_name,
    cast("dateOfBirth" as {{ dbt.type_string() }}) as date_of_birth_raw,
    cast({{ to_date('"dateOfBirth"') }} as date) as date_of_birth,
    cast("status" as {{ dbt.type_string() }}) as status,
    cast("createdAt" as {{ dbt.type_timestamp() }}) as created_at,
    cast("updatedAt" as {{ dbt.type_timestamp() }}) as updated_at,
    cast(coalesce(lower("status") = 'deleted', false) or {{ loader_deleted(src) }} as boolean) as is_deleted,
    cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
from current_version
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
