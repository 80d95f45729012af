-- Human API patients in the shape every vendor's patients share: one row per user
-- (humanId) of the admin users list. Names and email from the users list (the app's
-- own data), sex and birth date from the newest demographics record that has them
-- (one per medical source), else the users list's dateOfBirth. A user whose admin
-- status is 'deleted' (or whose row the loader deleted) is is_deleted.
with users as (
    select * from {{ ref('stg_humanapi__users') }}
),

demographics as (
    select * from {{ ref('stg_humanapi__demographics') }}
    where not is_deleted
),

sex_ranked as (
    select
        human_id,
        sex,
        row_number() over (partition by human_id order by updated_at desc, id) as rn
    from demographics
    where sex is not null
),

birth_ranked as (
    select
        human_id,
        birth_date,
        row_number() over (partition by human_id order by updated_at desc, id) as rn
    from demographics
    where birth_date is not null
),

names_ranked as (
    select
        human_id,
        given_name,
        family_name,
        row_number() over (partition by human_id order by updated_at desc, id) as rn
    from demographics
    where given_name is not null or family_name is not null
)

select
    cast('humanapi' as {{ dbt.type_string() }}) as vendor,
    cast(u.human_id as {{ dbt.type_string() }}) as patient_key,
    cast(u.client_user_id as {{ dbt.type_string() }}) as client_user_id,
    cast(coalesce(u.first_name, n.given_name) as {{ dbt.type_string() }}) as first_name,
    cast(coalesce(u.last_name, n.family_name) as {{ dbt.type_string() }}) as last_name,
    cast(coalesce(s.sex, 'unknown') as {{ dbt.type_string() }}) as sex,
    cast(coalesce(b.birth_date, u.date_of_birth) as date) as birth_date,
    cast(null as date) as death_date,
    cast(u.client_user_email as {{ dbt.type_string() }}) as email,
    cast(null as {{ dbt.type_string() }}) as phone,
    cast(u.is_deleted as boolean) as is_deleted,
    cast(u.updated_at as {{ dbt.type_timestamp() }}) as updated_at,
    cast(u._batched_at as {{ dbt.type_timestamp() }}) as _batched_at
from users as u
left join sex_ranked as s on s.human_id = u.human_id and s.rn = 1
left join birth_ranked as b on b.human_id = u.human_id and b.rn = 1
left join names_ranked as n on n.human_id = u.human_id and n.rn = 1
