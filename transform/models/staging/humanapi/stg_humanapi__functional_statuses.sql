{#- Human API functional_statuses, one row per (human_id, id): the current version (newest
    updatedAt, then newest batch). is_deleted: the loader deleted the row (records of users
    whose status is deleted are left to downstream models). -#}
{{ healthdata.humanapi_staging_model('functional_statuses', [
    'human_id', 'id', 'client_user_id', 'source', 'name', 'date_time', 'date_time_raw',
    'codes:json', 'organization:json', 'ccd:json', 'created_at', 'updated_at', 'extra_fields',
]) }}
