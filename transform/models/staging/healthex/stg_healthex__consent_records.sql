{#- HealthEx consent_records, one row per (project_id, id): the current version (newest
    synced_at, then newest batch). is_deleted: the loader deleted the row. -#}
{%- set src = source('healthex', 'consent_records') -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['project_id', 'id'], ['"synced_at"', batched_at(src)]) }}
)

select
    cast("project_id" as {{ dbt.type_string() }}) as project_id,
    cast("id" as {{ dbt.type_string() }}) as consent_id,
    cast("patientId" as {{ dbt.type_string() }}) as patient_id,
    cast("studyId" as {{ dbt.type_string() }}) as study_id,
    cast("studyVersionId" as {{ dbt.type_string() }}) as study_version_id,
    cast("consentType" as {{ dbt.type_string() }}) as consent_type,
    cast("consentStatus" as {{ dbt.type_string() }}) as consent_status,
    cast("timestamp" as {{ dbt.type_timestamp() }}) as consent_timestamp,
    cast("expirationTimestamp" as {{ dbt.type_timestamp() }}) as expiration_timestamp,
    cast({{ healthdata.json_column_text('"consentStats"') }} as {{ dbt.type_string() }}) as consent_stats,
    cast("studySnapshotId" as {{ dbt.type_string() }}) as study_snapshot_id,
    cast("consentConfigSnapshotId" as {{ dbt.type_string() }}) as consent_config_snapshot_id,
    cast("consentUIFlow" as {{ dbt.type_string() }}) as consent_ui_flow,
    cast("uiHash" as {{ dbt.type_string() }}) as ui_hash,
    cast("language" as {{ dbt.type_string() }}) as language,
    cast("fullRecordWithoutRestrictedData" as boolean) as full_record_without_restricted_data,
    cast({{ healthdata.json_column_text('"consentDataResourceScopes"') }} as {{ dbt.type_string() }}) as consent_data_resource_scopes,
    cast({{ healthdata.json_column_text('"consentDataSensitivityScopes"') }} as {{ dbt.type_string() }}) as consent_data_sensitivity_scopes,
    cast("synced_at" as {{ dbt.type_timestamp() }}) as synced_at,
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
