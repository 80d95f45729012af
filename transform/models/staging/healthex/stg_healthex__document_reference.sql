{#- HealthEx document_reference, one row per (project_id, healthex_patient_id, id): the current
    version (newest meta_last_updated, then newest batch). FHIR DocumentReference resources.
    is_deleted: loader-deleted, or status entered-in-error (a withdrawn patient is left to
    downstream models). -#}
{%- set src = source('healthex', 'document_reference') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['project_id', 'healthex_patient_id', 'id'], ['"meta_last_updated"', batched_at(src)]) }}
)

select
    cast("project_id" as {{ dbt.type_string() }}) as project_id,
    cast("healthex_patient_id" as {{ dbt.type_string() }}) as healthex_patient_id,
    cast("id" as {{ dbt.type_string() }}) as resource_id,
    cast("retrieval_id" as {{ dbt.type_string() }}) as retrieval_id,
    cast("file_key" as {{ dbt.type_string() }}) as file_key,
    cast("resource_type" as {{ dbt.type_string() }}) as resource_type,
    cast("meta_last_updated" as {{ dbt.type_timestamp() }}) as meta_last_updated,
    cast("code" as {{ dbt.type_string() }}) as code,
    cast("code_system" as {{ dbt.type_string() }}) as code_system,
    cast("display" as {{ dbt.type_string() }}) as display,
    cast("status" as {{ dbt.type_string() }}) as status,
    {{ healthdata.fhir_timestamp('"effective"') }} as effective_at,
    cast("effective" as {{ dbt.type_string() }}) as effective_raw,
    cast({{ healthdata.json_column_text('"resource"') }} as {{ dbt.type_string() }}) as resource,
    cast(
        coalesce(lower("status") = 'entered-in-error', false)
        or {{ loader_deleted(src) }}
        as boolean
    ) as is_deleted,
    cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
from current_version
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
