{#- Human API locations, one row per (human_id, id): the current version (newest updatedAt, then
    newest batch). Locations are PII. is_deleted: the loader deleted the row (records of users
    whose status is deleted are left to downstream models). -#}
{{ healthdata.humanapi_staging_model('locations', [
    'human_id', 'id', 'client_user_id', 'record_human_id', 'user_id', 'source', 'created_at', 'updated_at',
    'name', 'type', 'location:json', 'startTime:timestamp', 'endTime:timestamp',
    'timestamp:timestamp:location_timestamp', 'tzOffset', 'extra_fields',
]) }}
