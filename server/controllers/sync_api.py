"""The device API: enrollment, push, pull and online redemption (docs/sync-protocol.md)."""

from __future__ import annotations

import gzip

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromQuery
from litestar.response import Response

from events import campaigns, devices, keys, log_identity, ops, registry, sync
from server import api_schema, errors, live
from server.auth import device_guard
from server.owners import DEVICE, PUBLIC

PUSH_MAX_BYTES = 2 * 1024 * 1024
JSON = "application/json"
MAX_CURSOR = 2**53 - 1  # a log position or a time in ms: what JSON numbers carry exactly
CLERK_MAX = ops.Clerk.__metadata__[0].max_length  # the clerk on shift, as long as an op's clerk may be


def _now_ms(request: Request) -> int:
    return int(request.app.state.clock() * 1000)


def _json(payload: object, status_code: int = 200, *, gzip_for: Request | None = None) -> Response[bytes]:
    body = msgspec.json.encode(payload)
    headers = {"Cache-Control": "no-store"}
    # Only the pull is compressed: it is the bulk of what a tablet downloads (about 5x smaller),
    # and it carries no secret beside reflected input, unlike pages with a CSRF token (BREACH).
    if gzip_for is not None and "gzip" in gzip_for.headers.get("accept-encoding", "") and len(body) > 1024:
        body = gzip.compress(body, compresslevel=6)
        headers |= {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
    return Response(body, status_code=status_code, media_type=JSON, headers=headers)


def _subjects(batch_ops: list[ops.Op]) -> list[str]:
    """Every attendee or token a batch may have changed: its subjects, and whom vouchers went to."""
    return [op.subject for op in batch_ops] + [
        op.data.attendee_id for op in batch_ops if op.kind == "issue" and op.data.attendee_id
    ]


class EnrollmentController(Controller):
    path = "/api/v1"
    opt = {"owner": PUBLIC, "exclude_from_csrf": True}  # the one-time code is the credential

    @post(
        "/enroll",
        name="enroll",
        operation_class=api_schema.documented(ops.EnrollRequest),
        responses={
            201: api_schema.answer(api_schema.Enrolled, "enrolled"),
            400: api_schema.answer(
                errors.Invalid | errors.BadPublicKey, "malformed input, or a public key that is not acceptable"
            ),
            403: api_schema.answer(errors.EnrollmentRefused, "the code does not exist, was used or has expired"),
            413: api_schema.TOO_LARGE,
        },
    )
    async def enroll(self, request: Request) -> Response[bytes]:
        body = ops.decode_enroll(await request.body())
        db = request.app.state.db
        now_ms = _now_ms(request)
        try:
            public_key = keys.from_b64url(body.public_key)
        except ValueError:
            raise ops.InvalidInput("public_key is not base64url", "$.public_key") from None
        enrollment = devices.enroll(db, body.code, public_key=public_key, now=now_ms // 1000)
        device = enrollment.device
        event = registry.get_event(db, device.event_id)
        return _json(
            {
                "protocol": ops.PROTOCOL,
                "device_id": device.id,
                "device_name": device.name,
                "key_id": device.key_id,
                "device_token": enrollment.token,
                "event": {
                    "id": event.id,
                    "name": event.name,
                    "venue": event.venue,
                    "starts_at": event.starts_at,
                    "ends_at": event.ends_at,
                    "timezone": event.timezone,
                },
                "root_public_key": keys.b64url(registry.root_public_key(db, event.id)),
                "rotation_key": keys.b64url(registry.rotation_key(db, event.id)),
                "rotation_epoch": registry.rotation_epoch(db, event.id),
                "phone_search_key": keys.b64url(registry.phone_search_key(db, event.id)),
                "bundle": registry.signed_trust_bundle(db, event.id, now=now_ms // 1000).to_json(),
                "campaigns": campaigns.for_tablets(db, event.id),
                "log_id": log_identity.current(db),
                "server_time_ms": now_ms,
            },
            status_code=201,
        )


class SyncController(Controller):
    path = "/api/v1"
    guards = [device_guard]
    opt = {"owner": DEVICE, "exclude_from_csrf": True}  # bearer token, never sent by a browser on its own

    @post(
        "/push",
        name="push",
        status_code=200,
        request_max_body_size=PUSH_MAX_BYTES,
        operation_class=api_schema.documented(ops.PushBatch),
        responses={
            200: api_schema.answer(api_schema.Pushed, "each op applied or reported a duplicate"),
            400: api_schema.INVALID,
            **api_schema.DEVICE_ERRORS,
            409: api_schema.answer(
                errors.GapBody | errors.SeqReusedBody | errors.LogChangedBody,
                "a gap in device_seq, a device_seq reused, or a log restored since the tablet "
                "last synced; nothing was written",
            ),
            413: api_schema.TOO_LARGE,
        },
    )
    async def push(self, request: Request) -> Response[bytes]:
        batch = ops.decode_batch(await request.body())
        result = sync.push(request.app.state.db, request.state.device.id, batch, now_ms=_now_ms(request))
        if any(r.status == "applied" for r in result.results):
            live.announce(request.app, request.state.device.event_id, _subjects(batch.ops))
        return _json(
            {
                "protocol": ops.PROTOCOL,
                "results": [{"op_id": r.op_id, "device_seq": r.device_seq, "status": r.status} for r in result.results],
                "last_seq": result.last_seq,
                "server_time_ms": result.server_time_ms,
                "clock_offset_ms": result.clock_offset_ms,
                "conflicts_changed": len(result.conflicts),
                "log_id": result.log_id,
            }
        )

    @get(
        "/pull",
        name="pull",
        operation_class=api_schema.documented(
            after=(0, MAX_CURSOR), limit=(1, sync.PULL_LIMIT), sent_at_ms=(0, MAX_CURSOR)
        ),
        responses={
            200: api_schema.answer(api_schema.Pulled, "a page of the event's log"),
            400: api_schema.INVALID,
            **api_schema.DEVICE_ERRORS,
            409: api_schema.answer(errors.LogChangedBody, "the log was restored since the tablet last synced"),
        },
    )
    async def pull(
        self,
        request: Request,
        after: FromQuery[int] = 0,
        limit: FromQuery[int] = sync.PULL_LIMIT,
        sent_at_ms: FromQuery[int | None] = None,
        clerk: FromQuery[str | None] = None,
        log: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        for name, ok, rule in (
            ("after", 0 <= after <= MAX_CURSOR, "at least 0" if after < 0 else f"at most {MAX_CURSOR}"),
            ("limit", 1 <= limit <= sync.PULL_LIMIT, f"1 to {sync.PULL_LIMIT}"),
            (
                "sent_at_ms",
                sent_at_ms is None or 0 <= sent_at_ms <= MAX_CURSOR,
                "at least 0" if (sent_at_ms or 0) < 0 else f"at most {MAX_CURSOR}",
            ),
        ):
            if not ok:
                raise ops.InvalidInput(f"{name} must be {rule}", f"?{name}")
        if clerk is not None and len(clerk) > CLERK_MAX:  # the same limit as an op's clerk
            raise ops.InvalidInput(f"clerk must be at most {CLERK_MAX} characters", "?clerk")
        if log is not None and not ops.is_identifier(log):
            raise ops.InvalidInput("log must be a log id (8-64 characters of A-Z a-z 0-9 _ -)", "?log")
        result = sync.pull(
            request.app.state.db,
            request.state.device.id,
            after=after,
            limit=limit,
            now_ms=_now_ms(request),
            sent_at_ms=sent_at_ms,
            clerk=clerk,
            log_id=log or None,
        )
        return _json(
            {
                "protocol": ops.PROTOCOL,
                "ops": result.ops,
                "conflicts": [
                    {
                        "id": c.id,
                        "kind": c.kind,
                        "subject": c.subject,
                        "status": c.status,
                        "detail": c.detail,
                        "ops": c.roles,
                    }
                    for c in result.conflicts
                ],
                "cursor": result.cursor,
                "more": result.more,
                "bundle": result.bundle,
                # Once per sync, on its last page: a few hundred bytes, and they may have changed.
                "campaigns": None
                if result.more
                else campaigns.for_tablets(request.app.state.db, request.state.device.event_id),
                # A number, not the key: a tablet holding another epoch asks /rotation-keys, so
                # no secret ever shares a compressed body with what attendees typed (BREACH).
                "rotation_epoch": registry.rotation_epoch(request.app.state.db, request.state.device.event_id),
                "log_id": result.log_id,
                "server_time_ms": result.server_time_ms,
            },
            gzip_for=request,
        )

    @get(
        "/rotation-keys",
        name="rotation_keys",
        responses={
            200: api_schema.answer(api_schema.RotationKeys, "the event's rotation keys"),
            **api_schema.DEVICE_ERRORS,
        },
    )
    async def rotation_keys(self, request: Request) -> Response[bytes]:
        """The current rotation key and the retired ones: after a revocation the tablet's epoch
        is behind the pull's, and it fetches these (docs/sync-protocol.md, "Rotation keys")."""
        held = registry.rotation_keys(request.app.state.db, request.state.device.event_id)
        return _json(
            {
                "protocol": ops.PROTOCOL,
                "rotation_epoch": held.epoch,
                "rotation_key": keys.b64url(held.current),
                "retired": [
                    {"epoch": r.epoch, "rotation_key": keys.b64url(r.key), "retired_at": r.retired_at}
                    for r in held.retired
                ],
                # Here too, for a tablet enrolled before protocol 2 that has none yet.
                "phone_search_key": keys.b64url(
                    registry.phone_search_key(request.app.state.db, request.state.device.event_id)
                ),
            }
        )

    @post(
        "/redeem",
        name="redeem_online",
        status_code=200,
        operation_class=api_schema.documented(ops.OnlineRedeem),
        responses={
            200: api_schema.answer(api_schema.Decided, "the server's decision"),
            400: api_schema.INVALID,
            **api_schema.DEVICE_ERRORS,
            409: api_schema.answer(errors.LogChangedBody, "the log was restored since the tablet last synced"),
            413: api_schema.TOO_LARGE,
        },
    )
    async def redeem(self, request: Request) -> Response[bytes]:
        redeem = ops.decode_online_redeem(await request.body())
        db = request.app.state.db
        device = request.state.device
        decision = sync.redeem_online(db, device.id, redeem, now_ms=_now_ms(request))
        live.announce(request.app, device.event_id, [redeem.subject])
        return _json(
            {
                "protocol": ops.PROTOCOL,
                "op_id": decision.op_id,
                "outcome": decision.outcome,
                "reason": decision.reason,
                "uses_before": decision.uses_before,
                "max_uses": decision.max_uses,
                "log_id": decision.log_id,
                "server_time_ms": _now_ms(request),
            }
        )
