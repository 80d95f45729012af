{#- Human API organizations, one row per (human_id, id): the current version (newest updatedAt,
    then newest batch). The organizations (providers) the user's records come from. is_deleted:
    the loader deleted the row (records of users whose status is deleted are left to downstream
    models). -#}
{{ healthdata.humanapi_staging_model('organizations', [
    'human_id', 'id', 'client_user_id', 'name', 'imageUrl', 'created_at', 'updated_at', 'extra_fields',
]) }}
