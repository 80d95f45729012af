{#- Human API activities, one row per (human_id, id): the current version (newest updatedAt,
    then newest batch). is_deleted: the loader deleted the row (records of users whose status is
    deleted are left to downstream models). -#}
{{ healthdata.humanapi_staging_model('activities', [
    'human_id', 'id', 'client_user_id', 'record_human_id', 'user_id', 'source', 'source_data',
    'created_at', 'updated_at', 'type', 'startTime:timestamp', 'endTime:timestamp', 'tzOffset', 'timeZone',
    'duration:number', 'distance:number', 'steps:number', 'calories:number', 'timeSeries:json', 'extra_fields',
]) }}
