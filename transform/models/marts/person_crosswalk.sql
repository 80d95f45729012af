-- One person_id per real person across vendors.
--
-- Each vendor's patients carry the identifier var('person_identifiers') names for that
-- vendor (PainChek external_id, Human API clientUserId, HealthEx externalId by
-- default). A patient's person_key is what the person_identifier_map seed maps its
-- (vendor, identifier) to, else the identifier itself: patients of any vendors whose
-- person_keys are equal are one person. A patient without an identifier is a person of
-- its own. person_id is a hash, so it names nobody.
{%- set identifiers = var('person_identifiers') %}
{%- set vendors = ['painchek', 'humanapi', 'healthex'] %}

with patients as (
    {%- for vendor in vendors %}
    select
        vendor,
        patient_key,
        {% if identifiers.get(vendor) -%}
        cast(nullif(trim({{ adapter.quote(identifiers[vendor]) }}), '') as {{ dbt.type_string() }})
        {%- else -%}
        cast(null as {{ dbt.type_string() }})
        {%- endif %} as identifier,
        is_deleted
    from {{ ref('int_' ~ vendor ~ '__patients') }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

mapped as (
    select
        patients.*,
        coalesce(nullif(trim(map.person_key), ''), patients.identifier) as person_key
    from patients
    left join {{ ref('person_identifier_map') }} as map
        on map.vendor = patients.vendor and trim(map.identifier) = patients.identifier
)

select
    cast(case
        when person_key is not null then md5('person:' || person_key)
        else md5('patient:' || vendor || ':' || patient_key)
    end as {{ dbt.type_string() }}) as person_id,
    vendor,
    patient_key,
    identifier,
    cast(person_key is not null as boolean) as matched_by_identifier,
    is_deleted
from mapped
