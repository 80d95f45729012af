{#- PainChek comments, the current version of each uuid (highest update_stamp, then newest
    batch). Soft deletes (is_deleted, deleted_at, or the loader's _sdc_deleted_at) are flagged
    in is_deleted. -#}
{{ healthdata.painchek_staging_model('comments', 'comment', [
    'patient:string:patient_uuid', 'assessment:string:assessment_uuid', 'user:string:user_uuid', 'text',
]) }}
