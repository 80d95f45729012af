{#-
  Human API medications: one row per (human_id, id). Dosing from `details` {dosage
  {form, value}, frequency {number, unit}, route, strength {number, unit}} (values
  documented as strings, sometimes numbers: kept as text). `dose` is the dosage and
  strength as one text ("1 tablet (50 mcg)"), else the strength, else dosageInfo.
-#}
{%- set src = source('humanapi', 'medications') -%}
{%- set dosage = "trim(coalesce(" ~ json_text('details', ['dosage', 'value']) ~ " || ' ', '') || coalesce(" ~ json_text('details', ['dosage', 'form']) ~ ", ''))" -%}
{%- set strength = "trim(coalesce(" ~ json_text('details', ['strength', 'number']) ~ " || ' ', '') || coalesce(" ~ json_text('details', ['strength', 'unit']) ~ ", ''))" -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['human_id', 'id'], ['"updatedAt"', batched_at(src)]) }}
),

dosing as (
    select
        *,
        nullif({{ dosage }}, '') as _dosage,
        nullif({{ strength }}, '') as _strength
    from current_version
)

select
    cast(human_id as {{ dbt.type_string() }}) as human_id,
    cast(id as {{ dbt.type_string() }}) as id,
    cast(client_user_id as {{ dbt.type_string() }}) as client_user_id,
    cast(source as {{ dbt.type_string() }}) as source,
    cast(name as {{ dbt.type_string() }}) as name,
    cast(status as {{ dbt.type_string() }}) as status,
    cast("startDate" as {{ dbt.type_timestamp() }}) as start_date,
    cast("endDate" as {{ dbt.type_timestamp() }}) as end_date,
    cast({{ json_text('details', ['dosage', 'value']) }} as {{ dbt.type_string() }}) as dosage_value,
    cast({{ json_text('details', ['dosage', 'form']) }} as {{ dbt.type_string() }}) as dosage_form,
    cast({{ json_text('details', ['strength', 'number']) }} as {{ dbt.type_string() }}) as strength_number,
    cast({{ json_text('details', ['strength', 'unit']) }} as {{ dbt.type_string() }}) as strength_unit,
    cast({{ json_text('details', ['frequency', 'number']) }} as {{ dbt.type_string() }}) as frequency_number,
    cast({{ json_text('details', ['frequency', 'unit']) }} as {{ dbt.type_string() }}) as frequency_unit,
    cast({{ json_text('details', ['route']) }} as {{ dbt.type_string() }}) as route,
    cast(coalesce(_dosage || ' (' || _strength || ')', _dosage, _strength, "dosageInfo") as {{ dbt.type_string() }}) as dose,
    cast("dosageInfo" as {{ dbt.type_string() }}) as dosage_info,
    cast(instructions as {{ dbt.type_string() }}) as instructions,
    cast("productName" as {{ dbt.type_string() }}) as product_name,
    cast("commonBrandName" as {{ dbt.type_string() }}) as brand_name,
    cast("ndcCode" as {{ dbt.type_string() }}) as ndc_code,
    cast({{ json_text(array_column_element('codes'), ['code']) }} as {{ dbt.type_string() }}) as code,
    cast({{ code_system_name(
        'coalesce(' ~ json_text(array_column_element('codes'), ['codeSystemName']) ~ ', '
        ~ json_text(array_column_element('codes'), ['codeSystem']) ~ ')'
    ) }} as {{ dbt.type_string() }}) as code_system,
    cast({{ json_text(array_column_element('codes'), ['name']) }} as {{ dbt.type_string() }}) as code_display,
    cast(provider as {{ dbt.type_string() }}) as prescriber,
    cast(expiration as {{ dbt.type_timestamp() }}) as expires_at,
    cast({{ json_text('organization', ['name']) }} as {{ dbt.type_string() }}) as organization_name,
    cast("createdAt" as {{ dbt.type_timestamp() }}) as created_at,
    cast("updatedAt" as {{ dbt.type_timestamp() }}) as updated_at,
    cast({{ loader_deleted(src) }} as boolean) as is_deleted,
    cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
from dosing
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
