"""The data model, one module per concept. Importing this package registers every table."""
from server.models.accounts import Actor, AreaAssignment, AuthSession, FormAssignment, ProjectAssignment  # noqa: F401
from server.models.areas import Area  # noqa: F401
from server.models.audits import Audit  # noqa: F401
from server.models.blobs import Blob  # noqa: F401
from server.models.datasets import Dataset, DatasetForm, DatasetProperty  # noqa: F401
from server.models.entities import Entity, EntityError, EntityVersion  # noqa: F401
from server.models.form_data import FormColumn, FormTable  # noqa: F401
from server.models.forms import Form, FormAttachment, FormDef  # noqa: F401
from server.models.indicators import IndicatorSet, TargetSetChoice  # noqa: F401
from server.models.password_tokens import PasswordToken  # noqa: F401
from server.models.projects import Project  # noqa: F401
from server.models.public_links import PublicLink  # noqa: F401
from server.models.sign_in_attempts import SignInAttempt  # noqa: F401
from server.models.submissions import Comment, Submission, SubmissionAttachment, SubmissionDef  # noqa: F401
from server.webhooks.models import Webhook, WebhookDelivery  # noqa: F401
