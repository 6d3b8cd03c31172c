"""The fictional company behind the demo: its taxonomy, journeys and survey designs.

Everything here is invented for CPXM (company, products, generic names). The tables are small and
fixed, so their ids are assigned here once and every generator refers to them by code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

COMPANY_NAME = "Meridel Therapeutics"
COMPANY_EMAIL_DOMAIN = "meridel.example"

# The demo's clock stops here (not at "now"), so the same seed gives the same rows on any day.
REFERENCE_DATE = datetime(2025, 6, 30)
HISTORY_DAYS = 548  # 18 months of interactions ending at REFERENCE_DATE
HISTORY_START = REFERENCE_DATE - timedelta(days=HISTORY_DAYS)

THERAPEUTIC_AREAS = (
    ("oncology", "Oncology"),
    ("immunology", "Immunology & Inflammation"),
    ("cardiometabolic", "Cardiometabolic"),
)

LIFECYCLE_PHASES = (
    ("preclinical", "Preclinical", 1),
    ("clinical", "Clinical development", 2),
    ("commercial", "Commercial", 3),
)


@dataclass(frozen=True)
class ProductDef:
    code: str
    name: str
    generic_name: str
    therapeutic_area: str
    phase: str
    # Misspellings people really type, used by the comment generator.
    misspellings: tuple[str, ...] = ()


PRODUCTS = (
    ProductDef(
        "velcora", "Velcora", "zentrimab", "oncology", "commercial", ("Velkora", "Vellcora")
    ),
    ProductDef(
        "ondaris", "Ondaris", "palvotinib", "oncology", "commercial", ("Ondarys", "Ondaris®")
    ),
    ProductDef("trevanib", "MRD-4410", "trevanib", "oncology", "clinical"),
    ProductDef("mrd7702", "MRD-7702", "lutaclimab", "oncology", "preclinical"),
    ProductDef("imuvella", "Imuvella", "dresokinumab", "immunology", "commercial", ("Immuvella",)),
    ProductDef(
        "dermasol", "Dermasolve", "tapracitinib", "immunology", "commercial", ("Dermasolv",)
    ),
    ProductDef("mrd2231", "MRD-2231", "osterlimab", "immunology", "clinical"),
    ProductDef("mrd5120", "MRD-5120", "velnarsen", "immunology", "preclinical"),
    ProductDef("cardiaz", "Cardiaz", "semlotrapib", "cardiometabolic", "commercial", ("Cardias",)),
    ProductDef(
        "glyventa",
        "Glyventa",
        "orlaglutide",
        "cardiometabolic",
        "commercial",
        ("Glyventta", "Gliventa"),
    ),
    ProductDef("mrd3308", "MRD-3308", "pemacetrapib", "cardiometabolic", "clinical"),
    ProductDef("mrd9015", "MRD-9015", "zorlisiran", "cardiometabolic", "preclinical"),
)
PRODUCT_BY_CODE = {product.code: product for product in PRODUCTS}


@dataclass(frozen=True)
class CountryDef:
    code: str
    name: str
    language: str
    faker_locale: str
    phone_prefix: str
    weight: float  # share of the customer base


COUNTRIES = (
    CountryDef("US", "United States", "en", "en_US", "+1", 0.34),
    CountryDef("DE", "Germany", "de", "de_DE", "+49", 0.18),
    CountryDef("FR", "France", "fr", "fr_FR", "+33", 0.14),
    CountryDef("GB", "United Kingdom", "en", "en_GB", "+44", 0.13),
    CountryDef("ES", "Spain", "es", "es_ES", "+34", 0.12),
    CountryDef("JP", "Japan", "ja", "ja_JP", "+81", 0.09),
)

DEPARTMENTS = (
    ("field_sales", "Field sales"),
    ("medical_affairs", "Medical affairs (MSL)"),
    ("medical_information", "Medical information"),
    ("marketing", "Marketing"),
    ("patient_services", "Patient services"),
    ("clinical_operations", "Clinical operations"),
    ("market_access", "Market access"),
    ("pharmacovigilance", "Pharmacovigilance"),
    ("customer_service", "Customer service"),
)
DEPARTMENT_CODES = tuple(code for code, _ in DEPARTMENTS)

CHANNELS = (
    ("face_to_face", "Face to face", "personal"),
    ("phone", "Phone", "remote"),
    ("email", "Email", "remote"),
    ("remote_detailing", "Remote detailing (video)", "remote"),
    ("event", "Event or congress", "personal"),
    ("webinar", "Webinar", "remote"),
    ("web_portal", "Web portal", "digital"),
    ("hcp_portal", "HCP portal", "digital"),
    ("call_centre", "Call centre", "remote"),
    ("mail", "Postal mail", "digital"),
    ("sms", "SMS", "digital"),
    ("social", "Social media", "digital"),
)
CHANNEL_CODES = tuple(code for code, _, _ in CHANNELS)


@dataclass(frozen=True)
class StageDef:
    code: str
    name: str
    moment_of_truth: bool
    expectation: str


@dataclass(frozen=True)
class JourneyDef:
    code: str
    name: str
    stakeholder_type: str
    description: str
    stages: tuple[StageDef, ...]


JOURNEYS = (
    JourneyDef(
        "hcp_engagement",
        "HCP engagement",
        "hcp",
        "From first awareness of a therapy to confident use and advocacy.",
        (
            StageDef(
                "awareness", "Awareness", False, "I hear about new options from sources I trust."
            ),
            StageDef("education", "Scientific education", True, "I get balanced data fast."),
            StageDef("first_use", "First prescription", True, "Starting a patient is simple."),
            StageDef("adoption", "Adoption", False, "Support is there when questions come up."),
            StageDef("advocacy", "Advocacy", False, "I am treated as a partner, not a target."),
        ),
    ),
    JourneyDef(
        "psp",
        "Patient support programme",
        "patient",
        "A patient's path from prescription through onboarding to living with the therapy.",
        (
            StageDef("referral", "Referral", False, "Someone explains what the programme offers."),
            StageDef("enrolment", "Enrolment", True, "Signing up takes minutes, not weeks."),
            StageDef("onboarding", "Onboarding", True, "A nurse calls me soon after I enrol."),
            StageDef("therapy_start", "Therapy start", True, "I know what to expect in week one."),
            StageDef("ongoing_support", "Ongoing support", False, "I can reach a person easily."),
        ),
    ),
    JourneyDef(
        "clinical_site",
        "Clinical site",
        "clinical_site",
        "A site's path through a study, from feasibility to close-out.",
        (
            StageDef("feasibility", "Feasibility", False, "Questions fit our real patient pool."),
            StageDef("activation", "Site activation", True, "Contracts and training are quick."),
            StageDef("enrolment", "Patient enrolment", True, "Screening tools work first time."),
            StageDef("monitoring", "Monitoring", False, "The CRA helps rather than audits."),
            StageDef("close_out", "Close-out", False, "Payments arrive on time."),
        ),
    ),
)


def journey_stage_ids() -> dict[tuple[str, str], int]:
    """(journey code, stage code) -> the stage's id; ids follow the order above."""
    ids: dict[tuple[str, str], int] = {}
    next_id = 1
    for journey in JOURNEYS:
        for stage in journey.stages:
            ids[(journey.code, stage.code)] = next_id
            next_id += 1
    return ids


@dataclass(frozen=True)
class QuestionDef:
    code: str
    question_type: str
    prompt: str
    options: dict[str, object] | None = None
    required: bool = False


@dataclass(frozen=True)
class SurveyDef:
    code: str
    name: str
    kind: str
    audience: dict[str, object]
    questions: tuple[QuestionDef, ...]


def _rating(code: str, prompt: str) -> QuestionDef:
    return QuestionDef(code, "rating", prompt, {"min": 1, "max": 5})


# The relationship NPS drivers, in the order of their true weight (see effects.DRIVER_WEIGHTS).
HCP_DRIVER_PROMPTS = (
    ("scientific_information", "The scientific and medical information we share is useful to you."),
    ("representative_knowledge", "Our representatives know their therapy area well."),
    ("responsiveness", "We answer your questions quickly."),
    ("contact_relevance", "Our contacts are relevant to you and not too frequent."),
    ("patient_support", "Our patient support services help your patients."),
    ("digital_services", "Our HCP portal and digital services are easy to use."),
)

SURVEYS = (
    SurveyDef(
        "hcp_relationship_nps",
        "HCP relationship survey",
        "relationship",
        {"stakeholder_types": ["hcp"], "cadence": "every four months"},
        (
            QuestionDef(
                "nps",
                "nps",
                f"How likely are you to recommend {COMPANY_NAME} to a colleague?",
                {"min": 0, "max": 10},
                True,
            ),
            *(_rating(code, prompt) for code, prompt in HCP_DRIVER_PROMPTS),
            QuestionDef("comment", "text", "What is the main reason for your score?"),
        ),
    ),
    SurveyDef(
        "post_interaction",
        "After your contact with us",
        "transactional",
        {"trigger": "selected interactions, one day later"},
        (
            QuestionDef("csat", "csat", "How satisfied are you with this contact?", None, True),
            QuestionDef("ces", "ces", "It was easy to get what I needed.", {"min": 1, "max": 7}),
            QuestionDef("comment", "text", "Anything we could have done better?"),
        ),
    ),
    SurveyDef(
        "psp_experience",
        "Your patient support programme",
        "patient_support",
        {"stakeholder_types": ["patient"], "trigger": "14 days after enrolment"},
        (
            QuestionDef("csat", "csat", "How satisfied are you with the programme?", None, True),
            _rating("onboarding", "Getting started with the programme was smooth."),
            QuestionDef(
                "nurse_contact",
                "prem",
                "Could you reach a nurse when you needed one?",
                {"choices": ["always", "usually", "sometimes", "never"]},
            ),
            QuestionDef("comment", "text", "Tell us about your experience."),
        ),
    ),
    SurveyDef(
        "site_experience",
        "Clinical site experience",
        "site_experience",
        {"stakeholder_types": ["investigator", "site_staff"], "cadence": "twice a year"},
        (
            QuestionDef(
                "nps",
                "nps",
                f"How likely are you to recommend working with {COMPANY_NAME} to another site?",
                {"min": 0, "max": 10},
                True,
            ),
            _rating("cra_support", "Our CRA supports your site well."),
            _rating("protocol_clarity", "Protocols and amendments are clear."),
            _rating("payment_timeliness", "Site payments arrive on time."),
            _rating("systems", "Study systems (EDC, IRT, portal) are easy to use."),
            QuestionDef("comment", "text", "What should we improve?"),
        ),
    ),
    SurveyDef(
        "employee_pulse",
        "Employee pulse",
        "employee_pulse",
        {"stakeholder_types": ["employee"], "cadence": "quarterly"},
        (
            QuestionDef(
                "enps",
                "nps",
                f"How likely are you to recommend {COMPANY_NAME} as a place to work?",
                {"min": 0, "max": 10},
                True,
            ),
            _rating("tools", "I have the tools I need to serve customers."),
            _rating("workload", "My workload is manageable."),
            _rating("coordination", "Departments coordinate before contacting customers."),
            _rating("customer_focus", "We act on customer feedback."),
            _rating("training", "I get the training I need to do my job well."),
            QuestionDef("comment", "text", "What would make your work easier?"),
        ),
    ),
)
SURVEY_BY_CODE = {survey.code: survey for survey in SURVEYS}


def survey_ids() -> dict[str, int]:
    return {survey.code: index for index, survey in enumerate(SURVEYS, start=1)}


def question_ids() -> dict[tuple[str, str], int]:
    """(survey code, question code) -> question id."""
    ids: dict[tuple[str, str], int] = {}
    next_id = 1
    for survey in SURVEYS:
        for question in survey.questions:
            ids[(survey.code, question.code)] = next_id
            next_id += 1
    return ids


# Sign-in accounts for the demo (no passwords: the demo signs people in by choice of user).
TEAMS = (
    ("CX office", None, None, None),
    ("Field sales US", "field_sales", "US", None),
    ("Field sales Europe", "field_sales", None, None),
    ("Medical affairs oncology", "medical_affairs", None, "oncology"),
    ("Medical affairs immunology & cardiometabolic", "medical_affairs", None, None),
    ("Medical information", "medical_information", None, None),
    ("Patient services", "patient_services", None, None),
    ("Clinical operations", "clinical_operations", None, None),
    ("Pharmacovigilance", "pharmacovigilance", None, None),
    ("Market access", "market_access", None, None),
)

USERS = (
    ("admin", "Alex Admin", "admin", "CX office"),
    ("cx.lead", "Morgan Reyes", "cx_lead", "CX office"),
    ("analyst", "Priya Natarajan", "analyst", "CX office"),
    ("sales.us", "Jordan Blake", "commercial", "Field sales US"),
    ("sales.eu", "Lena Hoffmann", "commercial", "Field sales Europe"),
    ("msl.onc", "Camille Durand", "medical", "Medical affairs oncology"),
    ("msl.imm", "Diego Serrano", "medical", "Medical affairs immunology & cardiometabolic"),
    ("medinfo", "Hannah Okafor", "medical", "Medical information"),
    ("psp", "Sofia Martín", "patient_services", "Patient services"),
    ("clinops", "Kenji Watanabe", "clinical_ops", "Clinical operations"),
    ("pv", "Ingrid Larsen", "pv_officer", "Pharmacovigilance"),
    ("access", "Tom Whitaker", "commercial", "Market access"),
    ("viewer", "Guest Viewer", "viewer", "CX office"),
    # A work team's lead (writes that team's action plan on the EX-CX page) and the people team
    # (the pulse's invitation status; every team's action plans).
    ("field.lead.de", "Anna Becker", "commercial", "Field force Germany"),
    ("people", "Rosa Lindqvist", "hr_partner", "CX office"),
)
