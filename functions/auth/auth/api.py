"""HTTP routes of the auth function: accounts and sessions under /api/auth (DESIGN.md §6)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from labfolio_common.auth.deps import CurrentUser, clear_session_cookie, client_address, set_session_cookie
from labfolio_common.http import body_schema, create_app, health_router, json_body

from auth.deps import ServiceDep
from auth.schemas import (
    AccountDeletionRequest,
    LoginRequest,
    MePublic,
    PasswordChangeRequest,
    SessionPublic,
    SignupRequest,
)

router = APIRouter(prefix="/api/auth", tags=["auth"])

# Bodies of protected routes are read by a dependency declared after CurrentUser, so a caller without a session gets
# 401 before any 422 about the body (DESIGN.md §6: 401 -> 404 -> 422); FastAPI would otherwise decode JSON first.
PasswordChangeBody = Annotated[PasswordChangeRequest, Depends(json_body(PasswordChangeRequest))]
AccountDeletionBody = Annotated[AccountDeletionRequest, Depends(json_body(AccountDeletionRequest))]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    meaning = {
        401: "no valid session (or wrong username or password)",
        403: "wrong password, or a cookie-authenticated change without X-Requested-With: XMLHttpRequest",
        409: "username taken",
        422: "a field failed validation",
        429: "too many failed logins (or sign-ups from this address); see Retry-After",
    }
    return {code: {"description": meaning[code]} for code in codes}


@router.post("/signup", status_code=201, responses=_errors(409, 422, 429))
async def signup(body: SignupRequest, request: Request, response: Response, service: ServiceDep) -> SessionPublic:
    """Create an account and log it in (token in the body, session cookie for browsers)."""
    issued = service.signup(body.username, body.password, client_address(request))
    set_session_cookie(response, request, issued.token, issued.expires_in)
    return SessionPublic.of(issued)


@router.post("/login", responses=_errors(401, 422, 429))
async def login(body: LoginRequest, request: Request, response: Response, service: ServiceDep) -> SessionPublic:
    """A new session: the same 401 for an unknown username and a wrong password."""
    issued = service.login(body.username, body.password, client_address(request))
    set_session_cookie(response, request, issued.token, issued.expires_in)
    return SessionPublic.of(issued)


@router.post("/refresh", responses=_errors(401, 403))
async def refresh_token(user: CurrentUser, request: Request, response: Response, service: ServiceDep) -> SessionPublic:
    """A new token for a live session; the previous one keeps working until it expires unless the session ends."""
    issued = service.refresh(user)
    set_session_cookie(response, request, issued.token, issued.expires_in)
    return SessionPublic.of(issued)


@router.post("/logout", status_code=204, response_class=Response, responses=_errors(401, 403))
async def logout(user: CurrentUser, request: Request, service: ServiceDep) -> Response:
    """End this session everywhere (its tokens stop working on every instance)."""
    service.logout(user)
    response = Response(status_code=204)
    clear_session_cookie(response, request)
    return response


@router.get("/me", responses=_errors(401))
async def get_me(user: CurrentUser) -> MePublic:
    return MePublic(user_id=user.user_id, username=user.username, created_at=user.created_at)


@router.post(
    "/password",
    status_code=204,
    response_class=Response,
    responses=_errors(401, 403, 422, 429),
    openapi_extra=body_schema(PasswordChangeRequest),
)
async def change_password(
    user: CurrentUser, body: PasswordChangeBody, request: Request, service: ServiceDep
) -> Response:
    """Set a new password; every other session of the account ends (this one stays)."""
    service.change_password(user, body.current_password, body.new_password, client_address(request))
    return Response(status_code=204)


@router.delete(
    "/me",
    status_code=204,
    response_class=Response,
    responses=_errors(401, 403, 422, 429),
    openapi_extra=body_schema(AccountDeletionRequest),
)
async def delete_me(user: CurrentUser, body: AccountDeletionBody, request: Request, service: ServiceDep) -> Response:
    """Delete the account with every portfolio, holding, analysis and uploaded object it owns."""
    from labfolio_common.aws import client
    from labfolio_common.settings import get_settings

    service.delete_account(
        user, body.password, client_address(request), s3=client("s3"), bucket=get_settings().uploads_bucket
    )
    response = Response(status_code=204)
    clear_session_cookie(response, request)
    return response


app = create_app("auth", [health_router("auth"), router], title="labfolio auth")
