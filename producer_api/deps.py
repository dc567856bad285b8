"""``Annotated`` dependencies of the routes: settings, publisher, reply waiter, request ID.

All are ``async def`` although none awaits: FastAPI runs a plain ``def`` dependency in
its thread pool, a hand-off that cost more than the whole route (issue 10's profile).
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from producer_api.core.config import Settings
from producer_api.kafka import EventPublisher
from producer_api.replies import ReplyWaiter
from service_common.http import current_request_id


async def get_app_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


async def get_publisher(request: Request) -> EventPublisher:
    return cast(EventPublisher, request.app.state.publisher)


async def get_reply_waiter(request: Request) -> ReplyWaiter:
    return cast(ReplyWaiter, request.app.state.replies)


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
PublisherDep = Annotated[EventPublisher, Depends(get_publisher)]
ReplyWaiterDep = Annotated[ReplyWaiter, Depends(get_reply_waiter)]
RequestIdDep = Annotated[str, Depends(current_request_id)]
