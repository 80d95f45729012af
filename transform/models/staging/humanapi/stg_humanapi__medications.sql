{#-
  Human API medications: one row per (human_id, id). Dosing from `details` {dosage
  {form, value}, frequency {number, unit}, route, strength {number, unit}} (values
  documented as strings, sometimes numbers: kept as text). `dose` is the dosage and
  strength as one text ("1 tablet (50 mcg)"), else the strength, else dosageInfo.
-#}
{%- set src = source('humanapi', 'medications') -%}
{%- set dosage = "trim(coalesce(" ~ json_text('details', ['dosage', 'value']) ~ " || ' ', '') || coalesce(" ~ json_text('details', ['dosage', 'form']) ~ ", ''))" -%}
{%- set strength = "trim(coalesce(" ~ json_text('details', ['strength', 'number']) ~ " || ' ', '') || coalesce(" ~ json_text('details', ['strength', 'unit']) ~ ", ''))" -%}

{% call healthdata.humanapi_staging(src) %},

dosing as (
    select
        *,
        nullif({{ dosage }}, '') as _dosage,
        nullif({{ strength }}, '') as _strength
    from current_version
)

select
    {{ healthdata.humanapi_columns([
        'human_id', 'id', 'client_user_id', 'source', 'name', 'status', 'startDate:timestamp', 'endDate:timestamp',
    ]) }},
    cast({{ json_text('details', ['dosage', 'value']) }} as {{ dbt.type_string() }}) as dosage_value,
    cast({{ json_text('details', ['dosage', 'form']) }} as {{ dbt.type_string() }}) as dosage_form,
    cast({{ json_text('details', ['strength', 'number']) }} as {{ dbt.type_string() }}) as strength_number,
    cast({{ json_text('details', ['strength', 'unit']) }} as {{ dbt.type_string() }}) as strength_unit,
    cast({{ json_text('details', ['frequency', 'number']) }} as {{ dbt.type_string() }}) as frequency_number,
    cast({{ json_text('details', ['frequency', 'unit']) }} as {{ dbt.type_string() }}) as frequency_unit,
    cast({{ json_text('details', ['route']) }} as {{ dbt.type_string() }}) as route,
    cast(coalesce(_dosage || ' (' || _strength || ')', _dosage, _strength, "dosageInfo") as {{ dbt.type_string() }}) as dose,
    {{ healthdata.humanapi_columns([
        'dosageInfo', 'instructions', 'productName', 'commonBrandName:string:brand_name', 'ndcCode',
    ]) }},
    {{ healthdata.humanapi_first_code() }},
    {{ healthdata.humanapi_columns([
        'provider:string:prescriber', 'expiration:timestamp:expires_at',
        'organization_name', 'created_at', 'updated_at', 'is_deleted', '_batched_at',
    ], src) }}
from dosing
{% endcall %}
