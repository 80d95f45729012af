{#- PainChek admissions, the current version of each uuid (highest update_stamp, then newest
    batch). Soft deletes (is_deleted, deleted_at, or the loader's _sdc_deleted_at) are flagged
    in is_deleted. -#}
{{ healthdata.painchek_staging_model('admissions', 'admission', [
    'patient:json', 'site:json', 'start:utc:started_at', 'end:utc:ended_at', 'unit', 'room', 'bed',
    'ward', 'patient_uuid', 'site_uuid',
]) }}
