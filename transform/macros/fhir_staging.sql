{#-
  The HealthEx FHIR staging models (stg_healthex__<resource>): what they share.

  fhir_staging_model() renders a whole model of one FHIR resource type (the current
  version of each resource, its patient's withdrawal, soft deletes, the guard for a
  source not loaded yet); the model gives only the columns of its resource type,
  written over `s` (the current row: s.resource is the FHIR JSON, s.code ... the
  columns the tap promoted). fhir_resource_model() renders the plain ones that keep
  the resource as JSON text (diagnostic_report, document_reference, fhir_other).
  The helpers below write the columns most resource types have in common.
-#}

{#
  The first non-NULL of `values`: each a path into <rel>.resource (a list) or an SQL
  expression (a string). One value is rendered as is, several in a coalesce().
#}
{% macro fhir_first(values, rel='s') -%}
    {%- set parts = [] -%}
    {%- for value in values -%}
        {%- do parts.append(value if value is string else json_text(rel ~ '.resource', value)) -%}
    {%- endfor -%}
    {%- if parts | length == 1 -%}{{ parts[0] }}{%- else -%}coalesce({{ parts | join(', ') }}){%- endif -%}
{%- endmacro %}

{#
  A FHIR dateTime (the first non-NULL of `values`, see fhir_first) as a UTC timestamp:
  fhir_timestamp (macros/stage_helpers_rest.sql), which reads a partial one ("2019",
  "2019-04") as its first day.
#}
{% macro fhir_date(values, rel='s') -%}
{{ healthdata.fhir_timestamp(healthdata.fhir_first(values, rel)) }}
{%- endmacro %}

{#
  A status CodeableConcept of the resource (e.g. clinicalStatus), lower-cased: its first
  coding's code, else its text, else `fallback` (an SQL expression) when given.
#}
{% macro fhir_concept_status(element, fallback=none, rel='s') -%}
    {%- set values = [[element, 'coding', 0, 'code'], [element, 'text']] + ([fallback] if fallback else []) -%}
lower({{ healthdata.fhir_first(values, rel) }})
{%- endmacro %}

{#
  The statuses of an AllergyIntolerance or a Condition (no `status` of their own): the
  columns clinical_status (else the tap's column `status`) and verification_status.
#}
{% macro fhir_clinical_statuses(rel='s') -%}
{{ return([
    ('clinical_status', healthdata.fhir_concept_status('clinicalStatus', rel ~ '.status', rel)),
    ('verification_status', healthdata.fhir_concept_status('verificationStatus', none, rel)),
]) }}
{%- endmacro %}

{#
  The resource's status, lower-cased: from the resource, else the tap's column `status`
  (or the other way round, `promoted_first`).
#}
{% macro fhir_status(promoted_first=false, rel='s') -%}
    {%- set values = [rel ~ '.status', ['status']] if promoted_first else [['status'], rel ~ '.status'] -%}
lower({{ healthdata.fhir_first(values, rel) }})
{%- endmacro %}

{#
  The columns <prefix>code, <prefix>code_system_uri, <prefix>code_system (its name, see
  code_system_name) and <prefix>display of the CodeableConcept at path `concept` (e.g.
  ['code'], ['type', 0]): its first coding (display: else its text, else
  `display_fallbacks`). With `promoted`, the tap's columns code, code_system and
  display come first.
#}
{% macro fhir_code_columns(concept, prefix='', promoted=true, display_fallbacks=[], rel='s') -%}
    {%- set coding = concept + ['coding', 0] -%}
    {%- set promoted_code = [rel ~ '.code'] if promoted else [] -%}
    {%- set promoted_system = [rel ~ '.code_system'] if promoted else [] -%}
    {%- set promoted_display = [rel ~ '.display'] if promoted else [] -%}
    {%- set system = healthdata.fhir_first(promoted_system + [coding + ['system']], rel) -%}
cast({{ healthdata.fhir_first(promoted_code + [coding + ['code']], rel) }} as {{ dbt.type_string() }}) as {{ prefix }}code,
    cast({{ system }} as {{ dbt.type_string() }}) as {{ prefix }}code_system_uri,
    cast({{ code_system_name(system) }} as {{ dbt.type_string() }}) as {{ prefix }}code_system,
    cast({{ healthdata.fhir_first(promoted_display + [coding + ['display'], concept + ['text']] + display_fallbacks, rel) }} as {{ dbt.type_string() }}) as {{ prefix }}display
{%- endmacro %}

{#
  A FHIR staging model: one row per (project_id, healthex_patient_id, resource_id), the
  current version (newest meta.lastUpdated, then newest batch).

  stream: the raw table; or a list of (table, FHIR type, {column: SQL over s}) to
    union several (their promoted columns, and those), which adds the columns
    resource_type and source_table. A table not loaded yet is left out (none: no rows).
  statuses: (column, SQL expression) pairs, the model's first columns; the row is
    deleted when one is 'entered-in-error' (as it is when the loader deleted it or the
    patient withdrew everywhere).
  columns: the model's other columns (SQL select items over `s`, comma-separated).
  encounter_reference: paths into s.resource (or SQL), the first non-NULL is the
    columns encounter_reference and encounter_id; none for no such columns.
  ctes: more CTEs (comma-separated, no trailing comma), after current_version,
    source_rows and withdrawn; rows: the CTE the rows are read from; joins: joins to it.

  Columns: project_id, healthex_patient_id, [resource_type,] resource_id,
  [source_table,] retrieval_id, <statuses>, <columns>, [encounter_reference, encounter_id,]
  meta_last_updated, is_patient_withdrawn, is_loader_deleted, is_deleted, _batched_at.
#}
{% macro fhir_staging_model(
    stream, columns, statuses=[], encounter_reference=[['encounter', 'reference']],
    ctes='', rows='source_rows', joins=''
) -%}
{%- set union = stream is not string -%}
{%- set streams = stream if union else [(stream, none, {})] -%}
{%- set present = healthdata.present_sources('healthex', streams | map('first') | list) -%}

{% if present %}
with
{%- for table, fhir_type, extra_columns in streams if table in present %}
{%- set src = source('healthex', table) %}
{%- set prefix = table ~ '_' if union else '' %}

{{ prefix }}current_version as (
    {{ current_rows(src, ['project_id', 'healthex_patient_id', 'id'], ['meta_last_updated', batched_at(src)]) }}
),

{{ table ~ '_rows' if union else 'source_rows' }} as (
    select
        {%- if union %}
        cast('{{ fhir_type }}' as {{ dbt.type_string() }}) as resource_type,
        cast('{{ table }}' as {{ dbt.type_string() }}) as source_table,
        {%- for column in ['project_id', 'healthex_patient_id', 'id', 'retrieval_id', 'resource', 'code', 'code_system', 'display', 'status', 'meta_last_updated'] %}
        s.{{ column }},
        {%- endfor %}
        {%- for name, expr in extra_columns.items() %}
        {{ expr }} as {{ name }},
        {%- endfor %}
        {%- else %}
        s.*,
        {%- endif %}
        {{ loader_deleted(src) }} as is_loader_deleted,
        cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
    from {{ prefix }}current_version as s
),
{%- endfor %}
{%- if union %}

source_rows as (
    {%- for table, fhir_type, extra_columns in streams if table in present %}
    select * from {{ table }}_rows
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),
{%- endif %}

withdrawn as (
    select distinct patient_id, is_withdrawn_everywhere
    from {{ ref('stg_healthex__identified_patients') }}
){% if ctes %},

{{ ctes }}
{%- endif %}

select
    cast(s.project_id as {{ dbt.type_string() }}) as project_id,
    cast(s.healthex_patient_id as {{ dbt.type_string() }}) as healthex_patient_id,
    {%- if union %}
    s.resource_type,
    {%- endif %}
    cast(s.id as {{ dbt.type_string() }}) as resource_id,
    {%- if union %}
    s.source_table,
    {%- endif %}
    cast(s.retrieval_id as {{ dbt.type_string() }}) as retrieval_id,
    {%- for name, status in statuses %}
    cast({{ status }} as {{ dbt.type_string() }}) as {{ name }},
    {%- endfor %}
    {{ columns | trim }},
    {%- if encounter_reference %}
    {%- set reference = 'cast(' ~ healthdata.fhir_first(encounter_reference) ~ ' as ' ~ dbt.type_string() ~ ')' %}
    {{ reference }} as encounter_reference,
    cast(regexp_replace({{ reference }}, '^(.*/|urn:uuid:)', '') as {{ dbt.type_string() }}) as encounter_id,
    {%- endif %}
    cast(s.meta_last_updated as {{ dbt.type_timestamp() }}) as meta_last_updated,
    cast(coalesce(withdrawn.is_withdrawn_everywhere, false) as boolean) as is_patient_withdrawn,
    cast(s.is_loader_deleted as boolean) as is_loader_deleted,
    cast(
        s.is_loader_deleted
        or coalesce(withdrawn.is_withdrawn_everywhere, false)
        {%- for name, status in statuses %}
        or coalesce({{ status }} = 'entered-in-error', false)
        {%- endfor %}
        as boolean
    ) as is_deleted,
    s._batched_at
from {{ rows }} as s
{%- if joins %}
{{ joins | trim }}
{%- endif %}
left join withdrawn
    on withdrawn.patient_id = s.healthex_patient_id
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
{%- endmacro %}

{#
  A FHIR resource table kept as is: one row per (project_id, healthex_patient_id, id
  [, key_extra]), the current version (newest meta_last_updated, then newest batch), the
  resource as JSON text. With `summary`, the columns the tap promoted (code, code_system,
  display, status, effective). is_deleted: loader-deleted, or `status` (SQL over the raw
  row) entered-in-error; a withdrawn patient is left to downstream models.
#}
{% macro fhir_resource_model(stream, key_extra=[], status='"status"', summary=true) -%}
{%- set src = source('healthex', stream) -%}

{% if healthdata.source_exists(src) %}
with current_version as (
    {{ current_rows(src, ['project_id', 'healthex_patient_id', 'id'] + key_extra, ['"meta_last_updated"', batched_at(src)]) }}
)

{#- the raw column, its name here -#}
{%- set leading = [('project_id', 'project_id'), ('healthex_patient_id', 'healthex_patient_id'), ('id', 'resource_id'),
    ('retrieval_id', 'retrieval_id'), ('file_key', 'file_key'), ('resource_type', 'resource_type')] %}
select
    {%- for column, name in leading %}
    cast("{{ column }}" as {{ dbt.type_string() }}) as {{ name }},
    {%- endfor %}
    cast("meta_last_updated" as {{ dbt.type_timestamp() }}) as meta_last_updated,
    {%- if summary %}
    {%- for column in ['code', 'code_system', 'display', 'status'] %}
    cast("{{ column }}" as {{ dbt.type_string() }}) as {{ column }},
    {%- endfor %}
    {{ healthdata.fhir_timestamp('"effective"') }} as effective_at,
    cast("effective" as {{ dbt.type_string() }}) as effective_raw,
    {%- endif %}
    cast({{ healthdata.json_column_text('"resource"') }} as {{ dbt.type_string() }}) as resource,
    cast(coalesce(lower({{ status }}) = 'entered-in-error', false) or {{ loader_deleted(src) }} as boolean) as is_deleted,
    cast({{ batched_at(src) }} as {{ dbt.type_timestamp() }}) as _batched_at
from current_version
{% else %}
{{ healthdata.no_rows() }}
{% endif %}
{%- endmacro %}
