{#- PainChek licenses, the current version of each uuid (highest update_stamp, then newest
    batch). Soft deletes (is_deleted, deleted_at, or the loader's _sdc_deleted_at) are flagged
    in is_deleted. -#}
{{ healthdata.painchek_staging_model('licenses', 'license', [
    'number', 'start:date:start_date', 'expiry:date:expiry_date', 'is_expiring:boolean', 'type',
    'holder:json',
], audit=false) }}
