"""Access control: the ONE place that decides who may see and change what.

How to declare a route's policy
-------------------------------
Every route must name a policy; ``tests/access/test_coverage.py`` walks ``app.routes`` and fails
for any route that names none. Pick the policy by the data the route returns or changes:

====================  =====================================================================
policy                use for
====================  =====================================================================
``PUBLIC``            health, static assets, sign-in pages, survey respondent pages ``/s/{token}``
``SIGNED_IN``         a user's own things: profile, inbox, notifications
``AGGREGATES``        dashboards and figures that never show one person's record
``COMMERCIAL_DATA``   record-level stakeholders, interactions, surveys, responses, cases
``MEDICAL_DATA``      medical-inquiry content (medical/commercial firewall)
``PATIENT_DATA``      patient-identifiable records (every call is audited as a read)
``SAFETY_DATA``       safety cases, AE / PC / special situations, reconciliation (PV; audited)
``CX_MANAGEMENT``     changing surveys, governance (RACI), routing: admin and cx_lead
``DATA_STEWARDSHIP``  imports, quarantine, identity resolution: admin
``ADMINISTRATION``    users, teams, roles, tokens: admin
``CASE_WORK``         working closed-loop cases: every record role but analyst
``PEOPLE_TEAM``       confidential surveys' invitation status: hr_partner (reads audited)
``TEAM_ACTIONS``      team action plans against low pulse enablers: all but analyst, viewer
====================  =====================================================================

For a whole router (usual)::

    from cpxm.access import COMMERCIAL_DATA, requires
    router = APIRouter(prefix="/surveys", dependencies=[requires(COMMERCIAL_DATA)])

For one route, or a public one::

    @router.get("/s/{token}", dependencies=[requires(PUBLIC)])

When the endpoint needs the principal (who is asking), take it as a parameter instead::

    from cpxm.access import CommercialReader
    def list_things(session: DbSession, principal: CommercialReader) -> ...

Unsigned requests get 401 on ``/api/...`` and a redirect to ``/auth/sign-in`` on pages; a role
outside the policy gets 403 with the roles that may. ``roles.ROLE_DOMAINS`` says which role sees
which data domain.

Principal resolution
--------------------
``Authorization: Bearer <token>`` (``cpxm token create --user EMAIL``) wins over the
``cpxm_session`` cookie set by signing in. Cookie-signed POST/PUT/PATCH/DELETE must carry the
session's CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``; templates get it as
``csrf_token``). Bearer requests need none: they carry no ambient credentials.

Record-level rules and audit
----------------------------
Which fields of a record a role gets is decided in :mod:`cpxm.access.records`: a route passes the
records it is about to answer with (or export) through the shield of their kind
(:func:`shield_stakeholders`, :func:`shield_interactions`, :func:`shield_feedback`,
:func:`shield_responses`, :func:`shield_export_rows`, :func:`shield_cases`,
:func:`shield_analytics_rows`). Patients appear under a stable pseudonymous key to roles without
the patient-identifiable domain; words are withheld by where they came from (patient, medical,
safety); reads of protected content are audited in bulk. ``tests/access/test_fields.py`` fails
when a route answers with a protected field unshielded.
Every ORM change made in a request is written to ``audit_log`` by :mod:`cpxm.access.audit`; send
``X-Audit-Reason`` to record why.
"""

# Imported on first use (PEP 562): a command that only needs `pseudonym` or the audit must not
# pay for FastAPI, which the policies import. Type checkers see the plain imports.
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cpxm.access.keys import pseudonym
    from cpxm.access.policy import (
        ADMINISTRATION,
        AGGREGATES,
        ALL_POLICIES,
        CASE_WORK,
        COMMERCIAL_DATA,
        CX_MANAGEMENT,
        DATA_STEWARDSHIP,
        MEDICAL_DATA,
        PATIENT_DATA,
        PEOPLE_TEAM,
        PUBLIC,
        SAFETY_DATA,
        SIGNED_IN,
        Administrator,
        AggregatesReader,
        CaseWorker,
        CommercialReader,
        CxManager,
        DataSteward,
        Forbidden,
        MedicalReader,
        NotSignedIn,
        PatientDataReader,
        PeopleTeam,
        Policy,
        SafetyReader,
        SignedIn,
        policies_of,
        requires,
    )
    from cpxm.access.principal import Principal
    from cpxm.access.records import (
        Protected,
        Provenance,
        RecordView,
        hidden_case_types,
        hidden_person_types,
        person_filter,
        person_lookup,
        readable_feedback_ids,
        shield_analytics_rows,
        shield_cases,
        shield_export_rows,
        shield_feedback,
        shield_interactions,
        shield_responses,
        shield_stakeholders,
        shows_identity,
    )
    from cpxm.access.roles import DOMAINS, ROLE_DOMAINS, ROLES, Domain, Role

_HOMES: dict[str, str] = {
    "pseudonym": "cpxm.access.keys",
    "ADMINISTRATION": "cpxm.access.policy",
    "AGGREGATES": "cpxm.access.policy",
    "ALL_POLICIES": "cpxm.access.policy",
    "CASE_WORK": "cpxm.access.policy",
    "COMMERCIAL_DATA": "cpxm.access.policy",
    "CX_MANAGEMENT": "cpxm.access.policy",
    "DATA_STEWARDSHIP": "cpxm.access.policy",
    "MEDICAL_DATA": "cpxm.access.policy",
    "PATIENT_DATA": "cpxm.access.policy",
    "PEOPLE_TEAM": "cpxm.access.policy",
    "PUBLIC": "cpxm.access.policy",
    "SAFETY_DATA": "cpxm.access.policy",
    "SIGNED_IN": "cpxm.access.policy",
    "Administrator": "cpxm.access.policy",
    "AggregatesReader": "cpxm.access.policy",
    "CaseWorker": "cpxm.access.policy",
    "CommercialReader": "cpxm.access.policy",
    "CxManager": "cpxm.access.policy",
    "DataSteward": "cpxm.access.policy",
    "Forbidden": "cpxm.access.policy",
    "MedicalReader": "cpxm.access.policy",
    "NotSignedIn": "cpxm.access.policy",
    "PatientDataReader": "cpxm.access.policy",
    "PeopleTeam": "cpxm.access.policy",
    "Policy": "cpxm.access.policy",
    "SafetyReader": "cpxm.access.policy",
    "SignedIn": "cpxm.access.policy",
    "policies_of": "cpxm.access.policy",
    "requires": "cpxm.access.policy",
    "Principal": "cpxm.access.principal",
    "Protected": "cpxm.access.records",
    "Provenance": "cpxm.access.records",
    "RecordView": "cpxm.access.records",
    "hidden_case_types": "cpxm.access.records",
    "hidden_person_types": "cpxm.access.records",
    "person_filter": "cpxm.access.records",
    "person_lookup": "cpxm.access.records",
    "readable_feedback_ids": "cpxm.access.records",
    "shield_analytics_rows": "cpxm.access.records",
    "shield_cases": "cpxm.access.records",
    "shield_export_rows": "cpxm.access.records",
    "shield_feedback": "cpxm.access.records",
    "shield_interactions": "cpxm.access.records",
    "shield_responses": "cpxm.access.records",
    "shield_stakeholders": "cpxm.access.records",
    "shows_identity": "cpxm.access.records",
    "DOMAINS": "cpxm.access.roles",
    "ROLE_DOMAINS": "cpxm.access.roles",
    "ROLES": "cpxm.access.roles",
    "Domain": "cpxm.access.roles",
    "Role": "cpxm.access.roles",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "ADMINISTRATION",
    "AGGREGATES",
    "ALL_POLICIES",
    "CASE_WORK",
    "COMMERCIAL_DATA",
    "CX_MANAGEMENT",
    "DATA_STEWARDSHIP",
    "DOMAINS",
    "MEDICAL_DATA",
    "PATIENT_DATA",
    "PEOPLE_TEAM",
    "PUBLIC",
    "ROLES",
    "ROLE_DOMAINS",
    "SAFETY_DATA",
    "SIGNED_IN",
    "Administrator",
    "AggregatesReader",
    "CaseWorker",
    "CommercialReader",
    "CxManager",
    "DataSteward",
    "Domain",
    "Forbidden",
    "MedicalReader",
    "NotSignedIn",
    "PatientDataReader",
    "PeopleTeam",
    "Policy",
    "Principal",
    "Protected",
    "Provenance",
    "RecordView",
    "Role",
    "SafetyReader",
    "SignedIn",
    "hidden_case_types",
    "hidden_person_types",
    "person_filter",
    "person_lookup",
    "policies_of",
    "pseudonym",
    "readable_feedback_ids",
    "requires",
    "shield_analytics_rows",
    "shield_cases",
    "shield_export_rows",
    "shield_feedback",
    "shield_interactions",
    "shield_responses",
    "shield_stakeholders",
    "shows_identity",
]
