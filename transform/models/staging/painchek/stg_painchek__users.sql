{#- PainChek users, the current version of each uuid (highest update_stamp, then newest batch).
    PainChek users (nurses, carers); names, emails and phones are staff PII. Soft deletes
    (is_deleted, deleted_at, or the loader's _sdc_deleted_at) are flagged in is_deleted. -#}
{{ healthdata.painchek_staging_model('users', 'user', [
    'email', 'first_name', 'last_name', 'phone', 'institution', 'institution_name', 'position', 'avatar',
    'has_activated:boolean', 'role', 'is_active:boolean', 'full_site_access:boolean', 'date_joined:timestamp',
    'external_id',
]) }}
