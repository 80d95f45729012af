{#-
  One name per code system, whether the vendor names it (Human API's codeSystemName),
  gives its OID (Human API's codeSystem, C-CDA) or its FHIR URI (HealthEx's coding.system).
  Anything else is kept as sent.
-#}
{% macro code_system_name(system) -%}
(case
    when {{ system }} is null then null
    when lower({{ system }}) in ('http://loinc.org', '2.16.840.1.113883.6.1', 'loinc') then 'LOINC'
    when lower({{ system }}) in ('http://snomed.info/sct', '2.16.840.1.113883.6.96', 'snomed', 'snomed ct', 'snomed-ct', 'snomedct') then 'SNOMED-CT'
    when lower({{ system }}) in ('http://hl7.org/fhir/sid/icd-10-cm', '2.16.840.1.113883.6.90', 'icd-10-cm', 'icd10cm', 'icd-10') then 'ICD-10-CM'
    when lower({{ system }}) in ('http://hl7.org/fhir/sid/icd-9-cm', '2.16.840.1.113883.6.103', 'icd-9-cm', 'icd9cm') then 'ICD-9-CM'
    when lower({{ system }}) in ('http://www.nlm.nih.gov/research/umls/rxnorm', '2.16.840.1.113883.6.88', 'rxnorm') then 'RxNorm'
    when lower({{ system }}) in ('http://hl7.org/fhir/sid/ndc', '2.16.840.1.113883.6.69', 'ndc') then 'NDC'
    when lower({{ system }}) in ('http://hl7.org/fhir/sid/cvx', '2.16.840.1.113883.12.292', 'cvx') then 'CVX'
    when lower({{ system }}) in ('http://www.ama-assn.org/go/cpt', '2.16.840.1.113883.6.12', 'cpt', 'cpt-4') then 'CPT'
    when lower({{ system }}) in ('http://terminology.hl7.org/codesystem/v3-actcode', '2.16.840.1.113883.5.4', 'actcode') then 'ActCode'
    else {{ system }}
end)
{%- endmacro %}
