{#-
  The shared parts of the Human API and PainChek staging models: the missing-source
  guard, the current-version CTE, the columns every stream of a vendor has, and a whole
  "thin" model (one stream, current version, columns typed one by one) from a list.

  A column list holds, in output order, one string per column:
    'name'               a column the vendor has in common (the *_common_column macros
                         below), else the raw column `name` as a string
    'raw:kind'           the raw column `raw` (vendor's spelling) as `kind`, named in
                         snake_case ("startTime" -> start_time)
    'raw:kind:alias'     the same, named `alias`
  kinds: string, timestamp, utc (text read by to_utc_timestamp), date (to_date),
  boolean, json (as JSON text), number (double; see number_column), bigint (the same).
-#}

{# One column of a list (see above); `common` maps a shared name to its 'raw:kind' spec. #}
{% macro staging_column(spec, common={}, prefix='') -%}
    {%- set spec = common.get(spec, spec) -%}
    {%- set parts = spec.split(':') -%}
    {%- set raw = parts[0] -%}
    {%- set kind = parts[1] if parts | length > 1 else 'string' -%}
    {%- set alias = parts[2] if parts | length > 2 else modules.re.sub('(?<!^)([A-Z])', '_\\1', raw).lower() -%}
    {%- set column = prefix ~ adapter.quote(raw) -%}
    {%- if kind in ('number', 'bigint') and prefix -%}
        {{ exceptions.raise_compiler_error("staging_column: no prefix for a " ~ kind ~ " column (" ~ spec ~ ")") }}
    {%- endif -%}
    {%- if kind == 'string' -%}
cast({{ column }} as {{ dbt.type_string() }})
    {%- elif kind == 'timestamp' -%}
cast({{ column }} as {{ dbt.type_timestamp() }})
    {%- elif kind == 'utc' -%}
cast({{ to_utc_timestamp(column) }} as {{ dbt.type_timestamp() }})
    {%- elif kind == 'date' -%}
cast({{ to_date(column) }} as date)
    {%- elif kind == 'boolean' -%}
cast({{ column }} as boolean)
    {%- elif kind == 'json' -%}
cast({{ healthdata.json_column_text(column) }} as {{ dbt.type_string() }})
    {%- elif kind == 'number' -%}
{{ healthdata.number_column(raw, 'double precision', true) }}
    {%- elif kind == 'bigint' -%}
{{ healthdata.number_column(raw, dbt.type_bigint(), true) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("staging_column: unknown kind '" ~ kind ~ "' in '" ~ spec ~ "'") }}
    {%- endif %} as {{ alias }}
{%- endmacro %}

{#
  Call block: the missing-source guard and the CTE current_version (one row per `key`,
  newest first by `newest_first`, then batch). The body continues the WITH: `select ...`,
  or `, more as (...) select ...`. No source: no_rows().
#}
{% macro vendor_staging(src, key, newest_first) -%}
{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, key, newest_first + [batched_at(src)]) }}
){{ caller() }}
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
{%- endmacro %}


{# ---------------------------------------------------------------- Human API #}

{#
  A column many Human API streams share: human_id, id, client_user_id, source
  (as strings), record_human_id, user_id, created_at, updated_at, extra_fields,
  source_data, date_time (+ date_time_raw), organization_id / organization_name (of the
  `organization` object), is_deleted (the loader deleted the row), _batched_at,
  entry_index (the 1-based index of the exploded entry aliased `entry`); any other entry
  of a column list (see the top). `prefix`: the relation alias with its dot.
#}
{% macro humanapi_common_column(name, src=none, prefix='', entry=none) -%}
    {%- if name == 'entry_index' -%}
cast({{ entry }}.idx as {{ dbt.type_int() }}) as entry_index
    {%- elif name == 'is_deleted' -%}
cast({{ loader_deleted(src) }} as boolean) as is_deleted
    {%- elif name == '_batched_at' -%}
cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
    {%- elif name in ('organization_id', 'organization_name') -%}
cast({{ json_text(prefix ~ 'organization', [name[13:]]) }} as {{ dbt.type_string() }}) as {{ name }}
    {%- else -%}
{{ healthdata.staging_column(name, {
    'record_human_id': 'humanId:string:record_human_id',
    'user_id': 'userId',
    'created_at': 'createdAt:timestamp',
    'updated_at': 'updatedAt:timestamp',
    'extra_fields': 'extra_fields:json',
    'source_data': 'sourceData:json',
    'date_time': 'dateTime:utc',
    'date_time_raw': 'dateTime:string:date_time_raw',
}, prefix) }}
    {%- endif -%}
{%- endmacro %}

{# Columns of a Human API model (a column list, see the top). `src` for is_deleted and _batched_at. #}
{% macro humanapi_columns(columns, src=none, prefix='', entry=none) -%}
{%- for name in columns -%}
{{ healthdata.humanapi_common_column(name, src, prefix, entry) }}{% if not loop.last %},
    {% endif %}
{%- endfor -%}
{%- endmacro %}

{#
  code, code_system, code_display of the first entry of a Human API `codes` list: the
  top-level array column `codes`, or with `element` (a JSON value) its codes[0].
#}
{% macro humanapi_first_code(codes='codes', alias_prefix='', element=none) -%}
    {%- set base = array_column_element(codes) if element is none else element -%}
    {%- set path = [] if element is none else ['codes', 0] -%}
cast({{ json_text(base, path + ['code']) }} as {{ dbt.type_string() }}) as {{ alias_prefix }}code,
    cast({{ code_system_name(
        'coalesce(' ~ json_text(base, path + ['codeSystemName']) ~ ', '
        ~ json_text(base, path + ['codeSystem']) ~ ')'
    ) }} as {{ dbt.type_string() }}) as {{ alias_prefix }}code_system,
    cast({{ json_text(base, path + ['name']) }} as {{ dbt.type_string() }}) as {{ alias_prefix }}code_display
{%- endmacro %}

{#
  Guard + current version of a Human API stream (call block; see vendor_staging). With
  `parents` (an exploded model) also the CTE `parents`: the current rows with their
  _batched_at, _loader_deleted and the expressions `parent_columns` ("expr as name").
#}
{% macro humanapi_staging(src, key=['human_id', 'id'], newest_first=['"updatedAt"'], parents=false, parent_columns=[]) -%}
{%- set body = caller -%}
{%- call healthdata.vendor_staging(src, key, newest_first) -%}
{%- if parents -%},

parents as (
    select
        *,
        {{ batched_at(src) }} as _batched_at,
        {{ loader_deleted(src) }} as _loader_deleted
        {%- for column in parent_columns %},
        {{ column }}
        {%- endfor %}
    from current_version
)
{%- endif -%}
{{ body() }}
{%- endcall -%}
{%- endmacro %}

{#
  A whole Human API staging model: the current version of each `key` (newest first by
  `newest_first`, then batch), the `columns` (a column list, see the top), then
  is_deleted (the loader deleted the row) and _batched_at.
#}
{% macro humanapi_staging_model(stream, columns, key=['human_id', 'id'], newest_first=['"updatedAt"']) -%}
{%- set src = source('humanapi', stream) -%}
{%- call healthdata.vendor_staging(src, key, newest_first) %}
select
    {{ healthdata.humanapi_columns(columns + ['is_deleted', '_batched_at'], src) }}
from current_version
{%- endcall -%}
{%- endmacro %}


{# ----------------------------------------------------------------- PainChek #}

{#
  PainChek's shared fields; `entity` names the key (uuid -> <entity>_uuid). is_deleted:
  the record's is_deleted, deleted_at, or the loader's delete.
#}
{% macro painchek_common_column(name, src=none, entity=none) -%}
    {%- if name == 'is_deleted' -%}
cast(
        coalesce("is_deleted", false) or "deleted_at" is not null
        or {{ loader_deleted(src) }}
        as boolean
    ) as is_deleted
    {%- elif name == '_batched_at' -%}
cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
    {%- else -%}
{{ healthdata.staging_column(name, {
    'uuid': 'uuid:string:' ~ entity ~ '_uuid',
    'created_at': 'created_at:timestamp',
    'modified_at': 'modified_at:timestamp',
    'deleted_at': 'deleted_at:timestamp',
    'update_stamp': 'update_stamp:bigint',
    'license': 'license:string:license_uuid',
    'extra_fields': 'extra_fields:json',
}) }}
    {%- endif -%}
{%- endmacro %}

{# Columns of a PainChek model (a column list, see the top). #}
{% macro painchek_columns(columns, src=none, entity=none) -%}
{%- for name in columns -%}
{{ healthdata.painchek_common_column(name, src, entity) }}{% if not loop.last %},
    {% endif %}
{%- endfor -%}
{%- endmacro %}

{# The fields every PainChek record has (`audit`: and the ones of the synced entities). #}
{% macro painchek_common_columns(audit=true) -%}
{{ return(['uuid', 'created_at', 'modified_at', 'deleted_at', 'update_stamp']
    + (['created_by_id', 'modified_by_id', 'device_id', 'license', 'license_name'] if audit else [])) }}
{%- endmacro %}

{# Guard + current version (by uuid, highest update_stamp) of a PainChek stream (call block). #}
{% macro painchek_staging(src) -%}
{%- set body = caller -%}
{%- call healthdata.vendor_staging(src, ['uuid'], ['"update_stamp"']) -%}
{{ body() }}
{%- endcall -%}
{%- endmacro %}

{#
  A whole PainChek staging model: the current version of each uuid, its common fields
  (uuid as <entity>_uuid), the `columns` (a column list, see the top), then
  extra_fields, is_deleted and _batched_at.
#}
{% macro painchek_staging_model(stream, entity, columns, audit=true) -%}
{%- set src = source('painchek', stream) -%}
{%- call healthdata.painchek_staging(src) %}
select
    {{ healthdata.painchek_columns(
        healthdata.painchek_common_columns(audit) + columns + ['extra_fields', 'is_deleted', '_batched_at'],
        src, entity
    ) }}
from current_version
{%- endcall -%}
{%- endmacro %}
