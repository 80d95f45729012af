{#- The Human API users of the app (admin users list): one row per humanId. -#}
{%- set src = source('humanapi', 'users') -%}

{% call healthdata.humanapi_staging(src, key=['"humanId"']) %}
select
    {{ healthdata.humanapi_columns([
        'humanId:string:human_id', 'clientUserId', 'clientUserEmail', 'firstName', 'lastName',
        'dateOfBirth:string:date_of_birth_raw', 'dateOfBirth:date', 'status', 'created_at', 'updated_at',
    ]) }},
    cast(coalesce(lower("status") = 'deleted', false) or {{ loader_deleted(src) }} as boolean) as is_deleted,
    {{ healthdata.humanapi_columns(['_batched_at'], src) }}
from current_version
{% endcall %}
