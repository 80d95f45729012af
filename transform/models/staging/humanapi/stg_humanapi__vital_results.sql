{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['human_id', 'id'],
) }}
{#-
  One row per measurement (results[] entry) of each Human API vitals set; the set's
  key (human_id, id) plus entry_index (1-based). Incremental: a set loaded since the
  last build is replaced whole.
  A set whose results[] is empty or NULL gives ONE placeholder row, entry_index NULL
  and the measurement columns NULL (the events skip it): so a set whose results[]
  became empty on a later load is in the new batch, and delete+insert on its key
  removes the rows its earlier results left.
  "dateTime" is ISO-8601 text, or in older data a JavaScript date string such as
  "Mon Jul 07 2014 14:40:26 GMT-0700 (PDT)" (documented): both become UTC.
-#}
{%- set src = source('humanapi', 'vitals') -%}

{#- JavaScript Date.toString(): "Www Mmm DD YYYY HH:MM:SS GMT+hhmm (TZ)" -> "YYYY-Mmm-DDTHH:MM:SS+hh:mm" #}
{%- set js_time -%}
regexp_replace(
            cast("dateTime" as {{ dbt.type_string() }}),
            '^[A-Za-z]{3},? ([A-Za-z]{3}) (\d{2}) (\d{4}) (\d{2}:\d{2}:\d{2}) GMT([+-]\d{2}):?(\d{2}).*$',
            '\3-\1-\2T\4\5:\6'
        ) as _js_time
{%- endset %}

{% call healthdata.humanapi_staging(src, parents=true, parent_columns=[js_time]) %},

parents_to_load as (
    select
        *,
        coalesce(
            {{ to_utc_timestamp('"dateTime"') }},
            {{ to_utc_timestamp(
                "substring(_js_time, 1, 5) || case substring(_js_time, 6, 3)
                    when 'Jan' then '01' when 'Feb' then '02' when 'Mar' then '03'
                    when 'Apr' then '04' when 'May' then '05' when 'Jun' then '06'
                    when 'Jul' then '07' when 'Aug' then '08' when 'Sep' then '09'
                    when 'Oct' then '10' when 'Nov' then '11' when 'Dec' then '12'
                end || substring(_js_time, 9)"
            ) }}
        ) as _vital_time
    from parents
    {{ loaded_since_last_build('_batched_at') }}
)

select
    {{ healthdata.humanapi_columns([
        'human_id', 'id', 'entry_index', 'client_user_id', 'source', '_vital_time:timestamp:vital_time',
        'dateTime:string:vital_time_raw', 'author',
    ], prefix='p.', entry='r') }},
    cast({{ json_text('r.elem', ['name']) }} as {{ dbt.type_string() }}) as name,
    cast({{ json_text('r.elem', ['normalizedName']) }} as {{ dbt.type_string() }}) as normalized_name,
    cast({{ safe_number(json_text('r.elem', ['value'])) }} as double precision) as value_number,
    cast({{ json_text('r.elem', ['value']) }} as {{ dbt.type_string() }}) as value_text,
    cast({{ json_text('r.elem', ['unit']) }} as {{ dbt.type_string() }}) as unit,
    {{ healthdata.humanapi_first_code(element='r.elem') }},
    {{ healthdata.humanapi_columns(['organization_name', 'created_at', 'updated_at'], prefix='p.') }},
    cast(p._loader_deleted as boolean) as is_deleted,
    cast(p._batched_at as {{ dbt.type_timestamp() }}) as _batched_at
from parents_to_load as p
{{ healthdata.explode_array_column_outer('p.results', 'r') }}
{% endcall %}
