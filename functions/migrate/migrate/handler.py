"""Lambda entry point of the `DatabaseMigration` custom resource (template.yaml): CloudFormation invokes it on every
deploy that changes the migrations, the layer or the database, and waits for the answer PUT to the event's ResponseURL.

- Create / Update: migrate the database to head (migrations.runner.upgrade, idempotent; on PostgreSQL under an
  advisory lock), answer SUCCESS with the revision (Data.Revision), or FAILED with the reason, which stops the deploy
  and rolls it back (a rollback sends an Update, which migrates to the head of the code rolled back to: no-op).
- Delete: nothing is done to the database (the data outlives the stack; RDS keeps a final snapshot) and the answer
  is always SUCCESS, so that deleting or rolling back a stack never hangs on this resource.

The answer must reach CloudFormation in every case, or the stack waits for the resource's ServiceTimeout: any
error is turned into a FAILED answer. The reason names the error but never the database password.

The same function is the operator's way into the private database (`make reset-password-aws ACCOUNT=alice`): an
event `{"operator": "reset-password", "username": "alice"}` - never sent by CloudFormation - gives the account a
generated password, ends its sessions and lifts its lockout, and answers `{"username", "password",
"sessions_ended"}` (or `{"error"}`) to the invoker alone: invoking needs lambda:InvokeFunction on this function, and
neither the event nor the password is logged.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any, Final

from labfolio_common.observability import logger

REASON_LIMIT: Final = 1000  # CloudFormation caps the whole response at 4 KB
SEND_ATTEMPTS: Final = 4


OPERATOR_ACTIONS: Final = ("reset-password",)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "operator" in event:
        return operator_action(event)
    request_type = event.get("RequestType")
    physical_id = event.get("PhysicalResourceId") or f"{event.get('LogicalResourceId', 'DatabaseMigration')}-database"
    data: dict[str, str] = {}
    secret: str | None = None
    try:
        if request_type in ("Create", "Update"):
            url, secret = _database_url()
            data = migrate(url)
            reason = f"database at revision {data['Revision']}"
        elif request_type == "Delete":
            reason = "the database is kept when the stack or this resource goes"
        else:
            raise ValueError(f"unknown RequestType {request_type!r}")
        status = "SUCCESS"
    except Exception as exc:
        status = "FAILED"
        reason = _redact(f"migration failed: {type(exc).__name__}: {exc}", secret)[:REASON_LIMIT]
        logger.error("migration failed", extra={"request_type": request_type, "reason": reason})
        if request_type == "Delete":  # never block a stack's deletion
            status, reason = "SUCCESS", "nothing to do on Delete (" + reason[:200] + ")"
    logger.info("custom resource answered", extra={"request_type": request_type, "status": status, "reason": reason})
    send_response(event, status=status, reason=reason, physical_id=physical_id, data=data)
    return {"Status": status, "Reason": reason, "PhysicalResourceId": physical_id, "Data": data}


def _database_url() -> tuple[str, str | None]:
    from labfolio_common.db.credentials import database_url_from_environment
    from sqlalchemy.engine import make_url

    url = database_url_from_environment()
    try:
        password = make_url(url).password
    except Exception:  # an unparsable URL fails in the migration with its own message
        password = None
    return url, (str(password) if password else None)


def migrate(url: str) -> dict[str, str]:
    """Upgrade the database at `url` to head; the revisions before and after."""
    from migrations.runner import current_revision, upgrade

    before = current_revision(url)
    upgrade(url)
    after = current_revision(url)
    if after is None:
        raise RuntimeError("the database has no revision after the upgrade")
    logger.info("database migrated", extra={"from_revision": before, "to_revision": after})
    return {"Revision": after, "PreviousRevision": before or "none"}


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def send_response(event: dict[str, Any], *, status: str, reason: str, physical_id: str, data: dict[str, str]) -> None:
    """PUT the answer to the pre-signed ResponseURL (as cfn-response does: JSON body, empty Content-Type)."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason,
            "PhysicalResourceId": physical_id,
            "StackId": event.get("StackId"),
            "RequestId": event.get("RequestId"),
            "LogicalResourceId": event.get("LogicalResourceId"),
            "NoEcho": False,
            "Data": data,
        }
    ).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 - CloudFormation's own https URL
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                answer.read()
            return
        except Exception as exc:
            logger.warning("response not delivered", extra={"attempt": attempt, "error": type(exc).__name__})
            if attempt == SEND_ATTEMPTS:
                raise
            time.sleep(min(2**attempt, 10))


def operator_action(event: dict[str, Any]) -> dict[str, Any]:
    """An operator's direct invocation: reset a forgotten password (the database is private to the VPC, and this
    function is the one inside it that every deploy has)."""
    action, username = event.get("operator"), event.get("username")
    if action not in OPERATOR_ACTIONS:
        return {"error": f"operator: unknown action {action!r} (known: {', '.join(OPERATOR_ACTIONS)})"}
    if not isinstance(username, str) or not username.strip():
        return {"error": "username: required, the account's name"}
    from labfolio_common.auth.admin import generate_password, reset_password
    from labfolio_common.db.engine import session_scope
    from labfolio_common.errors import LabfolioError

    secret: str | None = None
    try:
        url, secret = _database_url()
        password = generate_password()
        with session_scope(url) as db:
            account, ended = reset_password(db, username.strip(), password)
            name = account.username
    except LabfolioError as exc:
        logger.warning("operator action refused", extra={"action": action, "error": type(exc).__name__})
        return {"error": exc.detail}
    except Exception as exc:
        reason = _redact(f"{action} failed: {type(exc).__name__}: {exc}", secret)[:REASON_LIMIT]
        logger.error("operator action failed", extra={"action": action, "reason": reason})
        return {"error": reason}
    logger.info("password reset by the operator", extra={"action": action, "sessions_ended": ended})
    return {"username": name, "password": password, "sessions_ended": ended}
