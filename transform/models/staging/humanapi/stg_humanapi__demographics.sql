{#-
  Demographics of each Human API user, one record per medical source (a user can have
  several): one row per (human_id, id). Patient PHI: names, birth date, address.
-#}
{%- set src = source('humanapi', 'demographics') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['human_id', 'id'], ['"updatedAt"', batched_at(src)]) }}
)

select
    cast(human_id as {{ dbt.type_string() }}) as human_id,
    cast(id as {{ dbt.type_string() }}) as id,
    cast(client_user_id as {{ dbt.type_string() }}) as client_user_id,
    cast({{ json_text('name', ['prefix']) }} as {{ dbt.type_string() }}) as name_prefix,
    cast({{ json_text('name', ['given', 0]) }} as {{ dbt.type_string() }}) as given_name,
    cast({{ json_text('name', ['given', 1]) }} as {{ dbt.type_string() }}) as middle_name,
    cast({{ json_text('name', ['family']) }} as {{ dbt.type_string() }}) as family_name,
    cast(gender as {{ dbt.type_string() }}) as gender,
    cast(case
        when lower(trim(gender)) in ('female', 'f') then 'female'
        when lower(trim(gender)) in ('male', 'm') then 'male'
        when lower(trim(gender)) in ('unknown', 'u', 'unk', '') then 'unknown'
        when gender is not null then 'other'
    end as {{ dbt.type_string() }}) as sex,
    cast(dob as {{ dbt.type_string() }}) as dob,
    {#- dobDateTime (ISO) first; else dob as MM/DD/YYYY (documented) or ISO text. -#}
    cast(coalesce(
        cast("dobDateTime" as date),
        case when dob like '__/__/____'
             then {{ to_date("substring(dob, 7, 4) || '-' || substring(dob, 1, 2) || '-' || substring(dob, 4, 2)") }}
             else {{ to_date('dob') }}
        end
    ) as date) as birth_date,
    cast(race as {{ dbt.type_string() }}) as race,
    cast(ethnicity as {{ dbt.type_string() }}) as ethnicity,
    cast(language as {{ dbt.type_string() }}) as language,
    cast("maritalStatus" as {{ dbt.type_string() }}) as marital_status,
    cast({{ json_text('address', ['city']) }} as {{ dbt.type_string() }}) as address_city,
    cast({{ json_text('address', ['state']) }} as {{ dbt.type_string() }}) as address_state,
    cast({{ json_text('address', ['zip']) }} as {{ dbt.type_string() }}) as address_zip,
    cast({{ json_text('address', ['country']) }} as {{ dbt.type_string() }}) as address_country,
    cast({{ json_text('organization', ['id']) }} as {{ dbt.type_string() }}) as organization_id,
    cast({{ json_text('organization', ['name']) }} as {{ dbt.type_string() }}) as organization_name,
    cast("createdAt" as {{ dbt.type_timestamp() }}) as created_at,
    cast("updatedAt" as {{ dbt.type_timestamp() }}) as updated_at,
    cast({{ loader_deleted(src) }} as boolean) as is_deleted,
    cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
from current_version
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
