"""Users, teams and tokens as the API shows them: never a password hash or a token hash."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from cpxm.access.roles import ROLES
from cpxm.timeutil import UtcDateTime


class MeOut(BaseModel):
    id: int
    email: str
    display_name: str
    role: str
    domains: list[str]


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    display_name: str
    role: str
    team_id: int | None
    is_active: bool
    locked_until: UtcDateTime | None
    last_sign_in_at: UtcDateTime | None


class UserCreate(BaseModel):
    email: str = Field(min_length=3, max_length=320, examples=["ana@example.com"])
    role: str = Field(description=f"One of: {', '.join(ROLES)}.", examples=["analyst"])
    display_name: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, min_length=12, max_length=1024)
    team_id: int | None = None


class UserUpdate(BaseModel):
    role: str | None = Field(default=None, description=f"One of: {', '.join(ROLES)}.")
    team_id: int | None = None
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=12, max_length=1024)


class TeamOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    department_code: str | None
    country_code: str | None
    therapeutic_area_code: str | None


class TeamCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    department_code: str | None = Field(default=None, max_length=40)
    country_code: str | None = Field(default=None, max_length=2)
    therapeutic_area_code: str | None = Field(default=None, max_length=40)


class TokenCreate(BaseModel):
    name: str = Field(default="integration", min_length=1, max_length=120)


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: UtcDateTime
    token: str = Field(description="The secret, shown only in this response.")
