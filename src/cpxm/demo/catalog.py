"""What kinds of contact each stakeholder type has with the company, and how often.

One catalogue row fixes an interaction's department, channel, type, direction, whether an employee
made it, which products it can be about and which silo records it; the generators only draw
catalogue indexes, so every attribute of a contact stays consistent with the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cpxm.demo.taxonomy import CHANNELS


@dataclass(frozen=True)
class ActivityDef:
    key: str
    interaction_type: str
    department: str
    channel: str
    direction: str
    personal: bool  # an employee made or took the contact
    # Which products it can be about: commercial, clinical, any, patient (the patient's own), none.
    product_policy: str
    source_system: str | None  # the silo that records it


def _a(
    key: str,
    department: str,
    channel: str,
    direction: str,
    personal: bool,
    policy: str,
    source: str | None,
    interaction_type: str | None = None,
) -> ActivityDef:
    return ActivityDef(
        key, interaction_type or key, department, channel, direction, personal, policy, source
    )


OUT, IN = "outbound", "inbound"
ACTIVITIES = (
    _a("rep_visit", "field_sales", "face_to_face", OUT, True, "commercial", "crm"),
    _a("remote_detail", "field_sales", "remote_detailing", OUT, True, "commercial", "crm"),
    _a("rep_email", "field_sales", "email", OUT, True, "commercial", "crm"),
    _a("rep_phone_call", "field_sales", "phone", OUT, True, "commercial", "crm"),
    _a("msl_meeting", "medical_affairs", "face_to_face", OUT, True, "any", "crm"),
    _a("msl_video_call", "medical_affairs", "remote_detailing", OUT, True, "any", "crm"),
    _a("advisory_board", "medical_affairs", "event", OUT, True, "clinical", "events"),
    _a("promotional_email", "marketing", "email", OUT, False, "commercial", "email_platform"),
    _a("webinar_attendance", "marketing", "webinar", IN, False, "commercial", "events"),
    _a("congress_booth_visit", "marketing", "event", IN, True, "commercial", "events"),
    _a("portal_visit", "marketing", "hcp_portal", IN, False, "commercial", None),
    _a("sample_request", "customer_service", "hcp_portal", IN, False, "commercial", None),
    _a("service_call", "customer_service", "call_centre", IN, True, "commercial", "call_centre"),
    _a("ae_followup_call", "pharmacovigilance", "phone", OUT, True, "commercial", None),
    _a(
        "inquiry_phone",
        "medical_information",
        "phone",
        IN,
        True,
        "any",
        "medical_information",
        "medical_inquiry",
    ),
    _a(
        "inquiry_email",
        "medical_information",
        "email",
        IN,
        True,
        "any",
        "medical_information",
        "medical_inquiry",
    ),
    _a(
        "inquiry_portal",
        "medical_information",
        "hcp_portal",
        IN,
        True,
        "any",
        "medical_information",
        "medical_inquiry",
    ),
    _a(
        "medical_inquiry_response",
        "medical_information",
        "email",
        OUT,
        True,
        "any",
        "medical_information",
    ),
    _a("psp_enrolment", "patient_services", "web_portal", IN, False, "patient", "patient_support"),
    _a("psp_onboarding_call", "patient_services", "phone", OUT, True, "patient", "patient_support"),
    _a("psp_support_call", "patient_services", "phone", OUT, True, "patient", "patient_support"),
    _a("adherence_reminder", "patient_services", "sms", OUT, False, "patient", "patient_support"),
    _a("patient_portal_visit", "patient_services", "web_portal", IN, False, "patient", None),
    _a("patient_call", "customer_service", "call_centre", IN, True, "patient", "call_centre"),
    _a("disease_newsletter", "marketing", "email", OUT, False, "none", "email_platform"),
    _a("welcome_pack", "patient_services", "mail", OUT, False, "patient", "patient_support"),
    _a("social_engagement", "marketing", "social", IN, False, "none", None),
    _a(
        "patient_question",
        "medical_information",
        "call_centre",
        IN,
        True,
        "patient",
        "medical_information",
    ),
    _a("monitoring_visit", "clinical_operations", "face_to_face", OUT, True, "clinical", "crm"),
    _a(
        "remote_monitoring", "clinical_operations", "remote_detailing", OUT, True, "clinical", "crm"
    ),
    _a("site_communication", "clinical_operations", "email", OUT, True, "clinical", "crm"),
    _a("cra_call", "clinical_operations", "phone", OUT, True, "clinical", "crm"),
    _a("investigator_meeting", "medical_affairs", "event", IN, True, "clinical", "events"),
    _a("site_support_ticket", "clinical_operations", "web_portal", IN, False, "clinical", None),
    _a("sae_reconciliation", "pharmacovigilance", "email", OUT, True, "clinical", None),
    _a(
        "site_qualification_visit",
        "clinical_operations",
        "face_to_face",
        OUT,
        True,
        "clinical",
        "crm",
    ),
    _a(
        "site_initiation_visit", "clinical_operations", "face_to_face", OUT, True, "clinical", "crm"
    ),
    _a("close_out_visit", "clinical_operations", "face_to_face", OUT, True, "clinical", "crm"),
    _a("key_account_meeting", "market_access", "face_to_face", OUT, True, "commercial", "crm"),
    _a("tender_communication", "market_access", "email", OUT, True, "commercial", "crm"),
    _a("order_call", "customer_service", "phone", IN, True, "commercial", "call_centre"),
    _a("order_portal", "customer_service", "web_portal", IN, False, "commercial", None),
    _a("supply_update", "customer_service", "email", OUT, False, "commercial", "crm"),
    _a("key_account_visit", "field_sales", "face_to_face", OUT, True, "commercial", "crm"),
    _a("access_update", "market_access", "email", OUT, True, "commercial", "crm"),
    _a(
        "medical_information_followup",
        "medical_information",
        "email",
        OUT,
        True,
        "any",
        "medical_information",
    ),
    _a(
        "service_followup_call", "customer_service", "phone", OUT, True, "commercial", "call_centre"
    ),
    _a("patient_org_meeting", "patient_services", "event", OUT, True, "none", "events"),
    _a(
        "caregiver_support_call",
        "patient_services",
        "phone",
        OUT,
        True,
        "patient",
        "patient_support",
    ),
)
ACTIVITY_INDEX = {activity.key: index for index, activity in enumerate(ACTIVITIES)}
INQUIRY_KEYS = ("inquiry_phone", "inquiry_email", "inquiry_portal")

# Contacts per year at engagement 1, before planted effects.
ANNUAL_RATES = {
    "hcp": 41.0,
    "patient": 13.0,
    "caregiver": 6.0,
    "investigator": 30.0,
    "site_staff": 34.0,
    "clinical_site": 25.0,
    "hospital": 20.0,
    "pharmacy": 15.0,
    "wholesaler": 30.0,
    "payer": 12.0,
    "patient_organisation": 10.0,
    "cro": 20.0,
    "elderly_home": 8.0,
    "employee": 0.0,
}

_MIX: dict[str, dict[str, float]] = {
    "hcp": {
        "rep_visit": 24,
        "remote_detail": 9,
        "rep_email": 10,
        "rep_phone_call": 5,
        "msl_meeting": 5,
        "msl_video_call": 4,
        "advisory_board": 0.6,
        "promotional_email": 16,
        "webinar_attendance": 4,
        "congress_booth_visit": 2.5,
        "portal_visit": 9,
        "sample_request": 2,
        "service_call": 2.5,
        "ae_followup_call": 0.3,
        "key_account_meeting": 0.8,
    },
    "patient": {
        "psp_support_call": 20,
        "adherence_reminder": 26,
        "patient_portal_visit": 12,
        "patient_call": 10,
        "disease_newsletter": 10,
        "welcome_pack": 2,
        "social_engagement": 6,
        "patient_question": 3,
        "ae_followup_call": 1,
    },
    "caregiver": {
        "caregiver_support_call": 30,
        "patient_call": 20,
        "disease_newsletter": 20,
        "social_engagement": 15,
        "patient_question": 5,
    },
    "investigator": {
        "monitoring_visit": 18,
        "remote_monitoring": 10,
        "site_communication": 22,
        "cra_call": 14,
        "investigator_meeting": 3,
        "msl_meeting": 4,
        "sae_reconciliation": 3,
        "inquiry_email": 1,
    },
    "site_staff": {
        "monitoring_visit": 16,
        "remote_monitoring": 12,
        "site_communication": 28,
        "cra_call": 18,
        "site_support_ticket": 10,
        "sae_reconciliation": 3,
    },
    "clinical_site": {
        "site_qualification_visit": 3,
        "site_initiation_visit": 3,
        "monitoring_visit": 20,
        "close_out_visit": 2,
        "site_communication": 10,
        "supply_update": 4,
    },
    "hospital": {
        "key_account_meeting": 10,
        "key_account_visit": 8,
        "tender_communication": 6,
        "order_call": 4,
        "supply_update": 4,
    },
    "pharmacy": {"order_call": 10, "order_portal": 12, "supply_update": 6, "key_account_visit": 4},
    "wholesaler": {"order_call": 10, "order_portal": 14, "supply_update": 10},
    "payer": {"key_account_meeting": 10, "tender_communication": 8, "access_update": 6},
    "patient_organisation": {"patient_org_meeting": 10, "disease_newsletter": 6, "msl_meeting": 2},
    "cro": {"site_communication": 10, "cra_call": 6, "monitoring_visit": 2},
    "elderly_home": {"order_call": 6, "supply_update": 4, "key_account_visit": 3},
}


def activity_probabilities(stakeholder_type: str) -> np.ndarray:
    """The chance of each catalogue row for one contact of this stakeholder type."""
    weights = np.zeros(len(ACTIVITIES))
    for key, weight in _MIX.get(stakeholder_type, {}).items():
        weights[ACTIVITY_INDEX[key]] = weight
    total = weights.sum()
    return weights / total if total else weights


CHANNEL_KIND = {code: kind for code, _, kind in CHANNELS}
# Columns of the catalogue as arrays, so a whole batch of contacts is described by fancy indexing.
ACTIVITY_DEPARTMENT = np.array([a.department for a in ACTIVITIES], dtype=object)
ACTIVITY_CHANNEL = np.array([a.channel for a in ACTIVITIES], dtype=object)
ACTIVITY_TYPE = np.array([a.interaction_type for a in ACTIVITIES], dtype=object)
ACTIVITY_DIRECTION = np.array([a.direction for a in ACTIVITIES], dtype=object)
ACTIVITY_PERSONAL = np.array([a.personal for a in ACTIVITIES])
ACTIVITY_OUTBOUND = np.array([a.direction == OUT for a in ACTIVITIES])
ACTIVITY_DIGITAL = np.array([CHANNEL_KIND[a.channel] == "digital" for a in ACTIVITIES])

# Contacts a department makes when several pile onto one HCP in a week (the ping-pong bursts).
BURST_KEYS_BY_DEPARTMENT = {
    "field_sales": ("rep_visit", "rep_phone_call"),
    "medical_affairs": ("msl_video_call", "msl_meeting"),
    "marketing": ("promotional_email",),
    "market_access": ("access_update",),
    "medical_information": ("medical_information_followup",),
    "customer_service": ("service_followup_call",),
}
