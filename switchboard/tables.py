"""Every room's tables registered on the one metadata (``tickets.Base.metadata``): imported
by the migrations' environment, by the tests' truncation between tests and by the check
that the models match the migrations. A room with tables adds its models module here."""

from __future__ import annotations

import channels.email.models
import channels.telegram.models
import channels.twilio.voice_models  # noqa: F401
import erp.models  # noqa: F401
import knowledge.models  # noqa: F401
import routing.models  # noqa: F401
from tickets import Base

metadata = Base.metadata
