{#- Human API user_sync_status, one row per (human_id): the current version (newest checked_at,
    synched_at, then newest batch). The tap's record of its last sync of each user. is_deleted:
    the loader deleted the row (records of users whose status is deleted are left to downstream
    models). -#}
{{ healthdata.humanapi_staging_model('user_sync_status', [
    'human_id', 'client_user_id', 'checked_at:timestamp', 'outcome', 'detail', 'synched_at:timestamp',
], key=['human_id'], newest_first=['"checked_at"', '"synched_at"']) }}
