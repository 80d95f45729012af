{#- Human API profile, one row per (human_id): the current version (newest updatedAt, then
    newest batch). is_deleted: the loader deleted the row (records of users whose status is
    deleted are left to downstream models). -#}
{{ healthdata.humanapi_staging_model('profile', [
    'human_id', 'client_user_id', 'record_human_id', 'user_id', 'email', 'defaultTimeZone:json',
    'created_at', 'updated_at', 'extra_fields',
], key=['human_id']) }}
