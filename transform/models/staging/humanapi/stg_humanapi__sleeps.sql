{#- Human API sleeps, one row per (human_id, id): the current version (newest updatedAt, then
    newest batch). is_deleted: the loader deleted the row (records of users whose status is
    deleted are left to downstream models). -#}
{{ healthdata.humanapi_staging_model('sleeps', [
    'human_id', 'id', 'client_user_id', 'record_human_id', 'user_id', 'source', 'source_data',
    'created_at', 'updated_at', 'day:date', 'startTime:timestamp', 'endTime:timestamp', 'tzOffset', 'mainSleep:boolean',
    'timeAsleep:number', 'timeAwake:number', 'efficiency:number', 'timeToFallAsleep:number', 'timeAfterWakeup:number',
    'timeInBed:number', 'numberOfWakeups:number', 'timeSeries:json', 'extra_fields',
]) }}
