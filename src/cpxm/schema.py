"""Every table of the operational store, imported in data-flow order.

Alembic's environment and the tests import this module so ``Base.metadata`` is complete.
"""

from cpxm.analytics import models as analytics_models
from cpxm.auth import models as auth_models
from cpxm.cases import models as cases_models
from cpxm.db import Base
from cpxm.demo import models as demo_models
from cpxm.digest import models as digest_models
from cpxm.feedback import models as feedback_models
from cpxm.governance import models as governance_models
from cpxm.identity import models as identity_models
from cpxm.ingest import models as ingest_models
from cpxm.initiatives import models as initiatives_models
from cpxm.interactions import models as interactions_models
from cpxm.journeys import models as journeys_models
from cpxm.outcomes import models as outcomes_models
from cpxm.predict import models as predict_models
from cpxm.privacy import models as privacy_models
from cpxm.safety import models as safety_models
from cpxm.stakeholders import models as stakeholders_models
from cpxm.surveys import models as surveys_models
from cpxm.workspace import models as workspace_models

metadata = Base.metadata

__all__ = [
    "analytics_models",
    "auth_models",
    "cases_models",
    "demo_models",
    "digest_models",
    "feedback_models",
    "governance_models",
    "identity_models",
    "ingest_models",
    "initiatives_models",
    "interactions_models",
    "journeys_models",
    "metadata",
    "outcomes_models",
    "predict_models",
    "privacy_models",
    "safety_models",
    "stakeholders_models",
    "surveys_models",
    "workspace_models",
]
