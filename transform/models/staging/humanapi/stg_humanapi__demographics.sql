{#-
  Demographics of each Human API user, one record per medical source (a user can have
  several): one row per (human_id, id). Patient PHI: names, birth date, address.
-#}
{%- set src = source('humanapi', 'demographics') -%}

{% call healthdata.humanapi_staging(src) %}
select
    {{ healthdata.humanapi_columns(['human_id', 'id', 'client_user_id']) }},
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
    {{ healthdata.humanapi_columns(['race', 'ethnicity', 'language', 'maritalStatus']) }},
    cast({{ json_text('address', ['city']) }} as {{ dbt.type_string() }}) as address_city,
    cast({{ json_text('address', ['state']) }} as {{ dbt.type_string() }}) as address_state,
    cast({{ json_text('address', ['zip']) }} as {{ dbt.type_string() }}) as address_zip,
    cast({{ json_text('address', ['country']) }} as {{ dbt.type_string() }}) as address_country,
    {{ healthdata.humanapi_columns(
        ['organization_id', 'organization_name', 'created_at', 'updated_at', 'is_deleted', '_batched_at'], src
    ) }}
from current_version
{% endcall %}
