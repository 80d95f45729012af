-- Tuva input layer `medication`: medications as prescribed or stated (Human API
-- medications, HealthEx MedicationRequest and MedicationStatement).
select
    event_id as medication_id,
    person_id,
    cast(null as {{ dbt.type_string() }}) as payer,
    {{ tuva_patient_id() }} as patient_id,
    cast(encounter_key as {{ dbt.type_string() }}) as encounter_id,
    cast(null as date) as dispensing_date,
    cast(event_time as date) as prescribing_date,
    {{ tuva_source_code() }},
    cast(case when code_system = 'NDC' then code end as {{ dbt.type_string() }}) as ndc_code,
    cast(case when code_system = 'NDC' then display end as {{ dbt.type_string() }}) as ndc_description,
    cast(case when code_system = 'RxNorm' then code end as {{ dbt.type_string() }}) as rxnorm_code,
    cast(case when code_system = 'RxNorm' then display end as {{ dbt.type_string() }}) as rxnorm_description,
    {{ tuva_unmapped(['atc_code', 'atc_description']) }}
    cast(route as {{ dbt.type_string() }}) as route,
    cast(dose as {{ dbt.type_string() }}) as strength,
    cast(null as {{ dbt.type_numeric() }}) as quantity,
    cast(null as {{ dbt.type_string() }}) as quantity_unit,
    cast(null as {{ dbt.type_int() }}) as days_supply,
    cast(null as {{ dbt.type_string() }}) as practitioner_id,
    {{ tuva_lineage() }}
from {{ ref('int_clinical_events') }}
where event_type = 'medication' and not is_excluded
