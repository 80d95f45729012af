{#- HealthEx data_update_requests, one row per (project_id, patient_id, requested_at): the
    current version (newest batch). The tap's requests for a patient's data update and
    HealthEx's answers. is_deleted: the loader deleted the row. -#}
{%- set src = source('healthex', 'data_update_requests') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['project_id', 'patient_id', 'requested_at'], [batched_at(src)]) }}
)

select
    cast("project_id" as {{ dbt.type_string() }}) as project_id,
    cast("patient_id" as {{ dbt.type_string() }}) as patient_id,
    cast("requested_at" as {{ dbt.type_timestamp() }}) as requested_at,
    {{ healthdata.number_column('http_status', dbt.type_bigint(), true) }} as http_status,
    cast("message" as {{ dbt.type_string() }}) as message,
    cast("patient_action_needed_reason" as {{ dbt.type_string() }}) as patient_action_needed_reason,
    {{ healthdata.number_column('skipped_facilities_count', dbt.type_bigint(), true) }} as skipped_facilities_count,
    cast({{ healthdata.json_column_text('"counts"') }} as {{ dbt.type_string() }}) as counts,
    cast("retrieval_id" as {{ dbt.type_string() }}) as retrieval_id,
    cast("code" as {{ dbt.type_string() }}) as code,
    cast("error_code" as {{ dbt.type_string() }}) as error_code,
    cast({{ healthdata.json_column_text('"extra_fields"') }} as {{ dbt.type_string() }}) as extra_fields,
    cast(
        {{ loader_deleted(src) }}
        as boolean
    ) as is_deleted,
    cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
from current_version
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
