"""The data model, one module per concept. Importing this package registers every table."""
from server.models.blobs import Blob  # noqa: F401
from server.models.accounts import Actor, AreaAssignment, AuthSession, ProjectAssignment, FormAssignment  # noqa: F401
from server.models.projects import Project  # noqa: F401
from server.models.forms import Form, FormDef, FormAttachment  # noqa: F401
from server.models.submissions import Submission, SubmissionDef, SubmissionAttachment, Comment  # noqa: F401
from server.models.form_data import FormTable, FormColumn  # noqa: F401
from server.models.areas import Area  # noqa: F401
from server.models.indicators import IndicatorSet  # noqa: F401
from server.models.sign_in_attempts import SignInAttempt  # noqa: F401
from server.models.datasets import Dataset, DatasetProperty, DatasetForm  # noqa: F401
from server.models.entities import Entity, EntityVersion, EntityError  # noqa: F401
