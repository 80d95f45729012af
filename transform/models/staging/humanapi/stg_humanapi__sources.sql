{#- Human API sources, one row per (human_id, id, source): the current version (newest
    synched_at, connectedSince, then newest batch). The data sources (portals, devices) each
    user connected. is_deleted: the loader deleted the row (records of users whose status is
    deleted are left to downstream models). -#}
{{ healthdata.humanapi_staging_model('sources', [
    'human_id', 'id', 'client_user_id', 'source', 'sourceName', 'connectedSince:timestamp',
    'supportedDataTypes:json', 'devices:json', 'organization:json', 'historySync:json',
    'syncStatus:json:sync_status_json', 'resync:json', 'expectedSyncDuration:number', 'externalId', 'timeZone',
    'synched_at:timestamp', 'sync_status', 'sync_details', 'extra_fields',
], key=['human_id', 'id', 'source'], newest_first=['"synched_at"', '"connectedSince"']) }}
