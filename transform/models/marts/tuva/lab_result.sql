-- Tuva input layer `lab_result`: one row per result component (Human API test result
-- components, HealthEx laboratory Observations), the panel as the order.
select
    event_id as lab_result_id,
    person_id,
    {{ tuva_patient_id() }} as patient_id,
    cast(encounter_key as {{ dbt.type_string() }}) as encounter_id,
    cast(null as {{ dbt.type_string() }}) as accession_number,
    cast(case when panel_code is not null then {{ tuva_code_type('code_system') }} end
        as {{ dbt.type_string() }}) as source_order_type,
    cast(panel_code as {{ dbt.type_string() }}) as source_order_code,
    cast(panel_display as {{ dbt.type_string() }}) as source_order_description,
    cast({{ tuva_code_type('code_system') }} as {{ dbt.type_string() }}) as source_component_type,
    cast(code as {{ dbt.type_string() }}) as source_component_code,
    cast(display as {{ dbt.type_string() }}) as source_component_description,
    {{ tuva_unmapped(['normalized_order_type', 'normalized_order_code', 'normalized_order_description', 'normalized_component_type', 'normalized_component_code', 'normalized_component_description']) }}
    cast(status as {{ dbt.type_string() }}) as status,
    cast(coalesce(value_text, cast(value_number as {{ dbt.type_string() }})) as {{ dbt.type_string() }}) as result,
    cast(event_time as {{ dbt.type_timestamp() }}) as result_datetime,
    cast(null as {{ dbt.type_timestamp() }}) as collection_datetime,
    cast(unit as {{ dbt.type_string() }}) as source_units,
    cast(null as {{ dbt.type_string() }}) as normalized_units,
    cast(reference_range_low as {{ dbt.type_string() }}) as source_reference_range_low,
    cast(reference_range_high as {{ dbt.type_string() }}) as source_reference_range_high,
    {{ tuva_unmapped(['normalized_reference_range_low', 'normalized_reference_range_high']) }}
    cast(null as {{ dbt.type_int() }}) as source_abnormal_flag,
    cast(null as {{ dbt.type_int() }}) as normalized_abnormal_flag,
    {{ tuva_unmapped(['specimen', 'ordering_practitioner_id']) }}
    {{ tuva_lineage() }}
from {{ ref('int_clinical_events') }}
where event_type = 'lab' and not is_excluded
