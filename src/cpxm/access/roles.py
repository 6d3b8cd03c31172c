"""Roles, data domains, and which role may see which domain: the one table that decides it."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    CX_LEAD = "cx_lead"
    ANALYST = "analyst"
    COMMERCIAL = "commercial"
    MEDICAL = "medical"
    PATIENT_SERVICES = "patient_services"
    CLINICAL_OPS = "clinical_ops"
    PV_OFFICER = "pv_officer"
    VIEWER = "viewer"
    # The people team: sees confidential surveys' invitation status, to send reminders, and
    # links answers to people only where the workspace's policy allows (cpxm.access.confidential).
    HR_PARTNER = "hr_partner"


class Domain(StrEnum):
    """Kinds of record-level data the law and the firewall treat differently."""

    COMMERCIAL = "commercial"  # HCPs, organisations, interactions, surveys, cases
    MEDICAL = "medical"  # medical-inquiry content, medical-information notes
    PATIENT_IDENTIFIABLE = "patient_identifiable"  # names and contacts of patients, caregivers
    SAFETY = "safety"  # adverse events, product complaints, special situations


ROLES = tuple(role.value for role in Role)
DOMAINS = tuple(domain.value for domain in Domain)

# Record-level domains per role. Aggregates (scores, counts, charts) are open to every role;
# the viewer sees nothing else. Commercial roles never get MEDICAL or PATIENT_IDENTIFIABLE: the
# medical/commercial firewall. Analysts work on everything commercial but see patients only
# under a pseudonym. PV sees safety cases whole, with the reporter's identity.
ROLE_DOMAINS: dict[Role, frozenset[Domain]] = {
    Role.ADMIN: frozenset(Domain),
    Role.CX_LEAD: frozenset({Domain.COMMERCIAL, Domain.PATIENT_IDENTIFIABLE}),
    Role.ANALYST: frozenset({Domain.COMMERCIAL}),
    Role.COMMERCIAL: frozenset({Domain.COMMERCIAL}),
    Role.MEDICAL: frozenset({Domain.COMMERCIAL, Domain.MEDICAL}),
    Role.PATIENT_SERVICES: frozenset({Domain.COMMERCIAL, Domain.PATIENT_IDENTIFIABLE}),
    Role.CLINICAL_OPS: frozenset({Domain.COMMERCIAL, Domain.PATIENT_IDENTIFIABLE}),
    Role.PV_OFFICER: frozenset(
        {Domain.COMMERCIAL, Domain.MEDICAL, Domain.PATIENT_IDENTIFIABLE, Domain.SAFETY}
    ),
    Role.VIEWER: frozenset(),
    # No customer or patient records: employee experience figures and the pulse's invitations.
    Role.HR_PARTNER: frozenset(),
}

# Who runs the programme (surveys, governance, case routing) and who administers the workspace
# (users, data subjects' requests, retention): the policies and the commands both use these.
CX_MANAGERS = frozenset({Role.ADMIN, Role.CX_LEAD})
ADMINS = frozenset({Role.ADMIN})

# Departments whose interaction notes are medical-inquiry content, behind the firewall.
MEDICAL_DEPARTMENTS = frozenset({"medical_affairs", "medical_information", "pharmacovigilance"})


def parse_role(text: str) -> Role:
    """The role named ``text``, or a ValueError that lists the roles there are."""
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise ValueError(f"unknown role '{text}'; choose one of {', '.join(ROLES)}") from None
