"""Clinical vocabulary the fake vendors share: names, codes and value ranges.

Real code systems (SNOMED CT, LOINC, RxNorm, ICD-10-CM, CVX, CPT) with plausible
values, so that Human API records and HealthEx FHIR resources describe the same kind
of patient. All values are assumed (made up), never vendor data.
"""

from __future__ import annotations

# People the three sandboxes share, so that the dbt models' person crosswalk has real
# cross-vendor matches: the n-th patient (from 0) each sandbox creates carries the same
# identifier, for n < SHARED_PEOPLE. As a PainChek patient `external_id`, a Human API
# `clientUserId` and a HealthEx `externalId`, as a customer who gives every vendor its
# own patient id would set them. Assumed, like everything here.
SHARED_PEOPLE = 8


def shared_identifier(index: int) -> str | None:
    """The identifier the ``index``-th patient of every sandbox carries, if shared."""
    return f"MRN-{index + 1:06d}" if 0 <= index < SHARED_PEOPLE else None


# (name, code, system[, alternative code, alternative system])
ALLERGENS = (
    ("Penicillin G", "7980", "RXNORM"),
    ("Sulfamethoxazole", "10180", "RXNORM"),
    ("Aspirin", "1191", "RXNORM"),
    ("Codeine", "2670", "RXNORM"),
    ("Peanut (substance)", "762952008", "SNOMED"),
    ("Latex (substance)", "111088007", "SNOMED"),
    ("Bee venom (substance)", "288328004", "SNOMED"),
    ("Shellfish (substance)", "227037002", "SNOMED"),
)

CITIES = (
    ("San Francisco", "CA", "941"), ("Oakland", "CA", "946"), ("Sacramento", "CA", "958"),
    ("Rochester", "MN", "559"), ("New York", "NY", "100"), ("Charlotte", "NC", "282"),
    ("Austin", "TX", "787"), ("Denver", "CO", "802"), ("Seattle", "WA", "981"),
)  # fmt: skip

CLINICIANS = (
    "Dr. Anita Desai", "Dr. Michael Chen", "Dr. Sarah Goldberg", "Dr. Robert Okafor",
    "Dr. Laura Martinez", "Dr. James Whitfield", "Dr. Emily Nakamura", "Dr. Samuel Brooks",
)  # fmt: skip

ENCOUNTERS = (
    ("Office Visit", "99213", "Office or other outpatient visit, established patient"),
    ("Office Visit", "99214", "Office or other outpatient visit, established patient"),
    ("Emergency", "99283", "Emergency department visit"),
    ("Annual Physical", "99396", "Periodic preventive medicine, 40-64 years"),
    ("Telehealth", "99442", "Telephone evaluation and management service"),
)

FIRST_NAMES = {
    "female": (
        "Maria", "Jennifer", "Linda", "Elizabeth", "Susan", "Jessica", "Sarah", "Karen",
        "Lisa", "Nancy", "Ashley", "Emily", "Michelle", "Amanda", "Melissa", "Rebecca",
        "Laura", "Priya", "Mei", "Aaliyah", "Guadalupe", "Fatima", "Keisha", "Rosa",
    ),
    "male": (
        "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph",
        "Thomas", "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Steven", "Kevin",
        "Jose", "Luis", "Wei", "Arjun", "DeShawn", "Tyrone", "Hiroshi", "Omar",
    ),
}  # fmt: skip

# (name, LOINC, unit, low, high, decimals)
LABS = (
    ("Hemoglobin A1c/Hemoglobin.total in Blood", "4548-4", "%", 4.0, 5.6, 1),
    ("Glucose [Mass/volume] in Serum or Plasma", "2345-7", "mg/dL", 70, 99, 0),
    ("Cholesterol [Mass/volume] in Serum or Plasma", "2093-3", "mg/dL", 125, 200, 0),
    ("Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation", "13457-7", "mg/dL",
     0, 100, 0),
    ("Cholesterol in HDL [Mass/volume] in Serum or Plasma", "2085-9", "mg/dL", 40, 90, 0),
    ("Triglyceride [Mass/volume] in Serum or Plasma", "2571-8", "mg/dL", 0, 150, 0),
    ("Creatinine [Mass/volume] in Serum or Plasma", "2160-0", "mg/dL", 0.6, 1.3, 2),
    ("Hemoglobin [Mass/volume] in Blood", "718-7", "g/dL", 12.0, 17.5, 1),
    ("Thyrotropin [Units/volume] in Serum or Plasma", "3016-3", "mIU/L", 0.4, 4.0, 2),
    ("Potassium [Moles/volume] in Serum or Plasma", "2823-3", "mmol/L", 3.5, 5.1, 1),
    ("Leukocytes [#/volume] in Blood by Automated count", "6690-2", "10*3/uL", 4.5, 11.0, 1),
)  # fmt: skip

LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
    "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Nguyen",
    "Patel", "Kim", "Okafor", "O'Connor", "Chen", "Washington", "Kowalski", "Yamamoto",
)  # fmt: skip

# Medical sources: (source, sourceName, organization name, city, state).
MEDICAL_SOURCES = (
    ("starfishmedical", "Starfish Medical", "Starfish Medical Group", "San Francisco", "CA"),
    ("kaiserpermanente", "Kaiser Permanente", "Kaiser Permanente Oakland", "Oakland", "CA"),
    ("stanfordhealthcare", "Stanford MyHealth", "Stanford Health Care", "Palo Alto", "CA"),
    ("sutterhealth", "Sutter Health My Health Online", "Sutter Health", "Sacramento", "CA"),
    ("mayoclinic", "Mayo Clinic Patient Portal", "Mayo Clinic", "Rochester", "MN"),
    ("questdiagnostics", "Quest Diagnostics MyQuest", "Quest Diagnostics", "Secaucus", "NJ"),
    ("nyulangone", "NYU Langone Health MyChart", "NYU Langone Health", "New York", "NY"),
    ("atriumhealth", "Atrium Health MyAtriumHealth", "Atrium Health", "Charlotte", "NC"),
)

MEDICATIONS = (
    ("Lisinopril 10 MG Oral Tablet", "314076", "1 tablet by mouth daily", "oral"),
    ("Metformin hydrochloride 500 MG Oral Tablet", "861007", "1 tablet twice daily", "oral"),
    ("Atorvastatin 20 MG Oral Tablet", "617310", "1 tablet at bedtime", "oral"),
    ("Levothyroxine Sodium 0.05 MG Oral Tablet", "966222", "1 tablet every morning", "oral"),
    ("Amlodipine 5 MG Oral Tablet", "197361", "1 tablet by mouth daily", "oral"),
    ("Omeprazole 20 MG Delayed Release Oral Capsule", "198053", "1 capsule daily", "oral"),
    ("Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler", "745679", "2 puffs as needed",
     "inhalation"),
    ("Sertraline 50 MG Oral Tablet", "312940", "1 tablet by mouth daily", "oral"),
    ("Ibuprofen 600 MG Oral Tablet", "197806", "1 tablet every 6 hours as needed", "oral"),
)  # fmt: skip

PLANS = (
    ("Follow up with cardiology in 3 months", "referral"),
    ("Repeat hemoglobin A1c in 3 months", "lab order"),
    ("Schedule screening colonoscopy", "procedure"),
    ("Annual diabetic eye exam", "referral"),
    ("Physical therapy twice weekly for 6 weeks", "therapy"),
)

PROBLEMS = (
    ("Essential hypertension", "I10", "59621000"),
    ("Type 2 diabetes mellitus without complications", "E11.9", "44054006"),
    ("Hyperlipidemia, unspecified", "E78.5", "55822004"),
    ("Asthma, unspecified, uncomplicated", "J45.909", "195967001"),
    ("Major depressive disorder, single episode", "F32.9", "35489007"),
    ("Gastro-esophageal reflux disease without esophagitis", "K21.9", "235595009"),
    ("Hypothyroidism, unspecified", "E03.9", "40930008"),
    ("Unilateral primary osteoarthritis of knee", "M17.9", "239873007"),
    ("Migraine, unspecified, not intractable", "G43.909", "37796009"),
    ("Obesity, unspecified", "E66.9", "414916001"),
    ("Chronic kidney disease, stage 3 unspecified", "N18.30", "433144002"),
)

PROCEDURES = (
    ("Colonoscopy", "73761001", "45378"),
    ("Appendectomy", "80146002", "44950"),
    ("Extracapsular cataract extraction", "54885007", "66984"),
    ("Screening mammography", "24623002", "77067"),
    ("Electrocardiographic procedure", "29303009", "93000"),
    ("Laparoscopic cholecystectomy", "45595009", "47562"),
    ("Removal of tooth", "55162003", "D7140"),
)

REACTIONS = ("Hives", "Rash", "Anaphylaxis", "Nausea", "Swelling", "Wheezing", "Itching")

REPORTS = (
    ("Discharge Summary", "18842-5", "pdf", "application/pdf"),
    ("Laboratory Report", "11502-2", "pdf", "application/pdf"),
    ("Continuity of Care Document", "34133-9", "ccd", "application/xml"),
    ("Radiology Report", "18748-4", "pdf", "application/pdf"),
)

STREETS = ("Oak St", "Maple Ave", "Cedar Ln", "Pine St", "Elm St", "Washington Blvd",
            "Lakeview Dr", "Sunset Ave", "Hillside Rd", "Park Pl")  # fmt: skip

VACCINES = (
    ("Influenza, seasonal, injectable, preservative free", "140"),
    ("COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose", "208"),
    ("Tdap", "115"),
    ("Pneumococcal conjugate PCV 13", "133"),
    ("Zoster vaccine recombinant", "187"),
    ("Hepatitis B, adult", "43"),
    ("HPV, 9-valent", "165"),
    ("MMR", "03"),
)

VITALS = (
    ("Body weight", "29463-7", "kg", 48.0, 125.0, 1),
    ("Body height", "8302-2", "cm", 150.0, 195.0, 1),
    ("Heart rate", "8867-4", "/min", 52, 100, 0),
    ("Systolic blood pressure", "8480-6", "mm[Hg]", 100, 160, 0),
    ("Diastolic blood pressure", "8462-4", "mm[Hg]", 60, 100, 0),
    ("Body temperature", "8310-5", "Cel", 36.1, 37.9, 1),
    ("Respiratory rate", "9279-1", "/min", 12, 20, 0),
    ("Oxygen saturation in Arterial blood by Pulse oximetry", "59408-5", "%", 93, 100, 0),
    ("Body mass index (BMI) [Ratio]", "39156-5", "kg/m2", 18.5, 38.0, 1),
)
