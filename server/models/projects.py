"""Projects: the unit of permission (one per district or ward, as Central's projects)."""
from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import Boolean, Integer, String, Text, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.db import Base, UTCDateTime, utcnow
from server.models.recent import Recent


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    key_id: Mapped[int | None] = mapped_column()
    # Bumped by every registry upload: the indicators report's cache key (ids alone repeat on SQLite).
    areas_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def live_project(db: Session, project_id: int) -> Project | None:
    return db.scalars(select(Project).where(Project.id == project_id, Project.deleted_at.is_(None))).first()


@cache
def _live_statement():
    """Built once, like the token lookup: Collect asks before every upload."""
    t = Project.__table__
    return select(t.c.id).where(t.c.id == bindparam("id"), t.c.deleted_at.is_(None))


_recent_projects = Recent("live projects", lambda: (Project,))


def project_recently_live(project_id: int) -> bool:
    """True when `project_exists` would answer True without the database (looked up within a second)."""
    return bool(_recent_projects.get(project_id))


def project_exists(db: Session, project_id: int) -> bool:
    """Cheap existence check for hot paths (Collect's HEAD before every upload)."""
    if _recent_projects.get(project_id):
        return True
    found = db.connection().execute(_live_statement(), {"id": project_id}).first() is not None
    if found:
        _recent_projects.put(project_id, True)
    return found


def visible_projects(db: Session, actor) -> list[Project]:
    """The live projects an actor may see: all for a site administrator, else those with a role in them."""
    from server.models.accounts import ProjectAssignment

    stmt = select(Project).where(Project.deleted_at.is_(None)).order_by(Project.name, Project.id)
    if not actor.is_site_admin:
        mine = select(ProjectAssignment.project_id).where(ProjectAssignment.actor_id == actor.id)
        stmt = stmt.where(Project.id.in_(mine))
    return list(db.scalars(stmt))
