{#- PainChek sites, the current version of each uuid (highest update_stamp, then newest batch).
    Soft deletes (is_deleted, deleted_at, or the loader's _sdc_deleted_at) are flagged in
    is_deleted. -#}
{{ healthdata.painchek_staging_model('sites', 'site', [
    'type:bigint', 'name', 'phone', 'email', 'address', 'postcode', 'city', 'state', 'country',
    'num_beds:bigint', 'external_id',
]) }}
