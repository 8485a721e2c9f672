"""The realtime process (`referrals realtime`) on a real Redis: who may open which stream,
who hears what, CORS, token expiry, presence, and a killed process's shoppers going offline.

Streams are read with a socket client that closes like a browser tab (realtime_support.py);
every wait is for an outcome with a generous deadline.
"""

from __future__ import annotations

import itertools
import json
import random
import socket
from urllib.parse import quote

import httpx
import pytest

from shopify_app.realtime import presence, publish
from shopify_app.realtime.server import PUBSUB_CLIENT_NAME
from shopify_app.realtime.tokens import issue_realtime_token

from ..support import wait_until
from .realtime_support import Realtime, SSEClient, streams

pytestmark = pytest.mark.xdist_group("realtime")

# Pub/sub channels are global to a Redis server, whatever its database number: with a shared
# REDIS_URL (make test-services) other xdist workers run on the same server, so this run's
# shops take ids no other test uses.
_ids = itertools.count(random.randrange(10**8, 2 * 10**9, 10**6))


def new_shop() -> int:
    return next(_ids)


@pytest.fixture(scope="module")
def realtime(redis_url, tmp_path_factory):
    server = Realtime(redis_url, tmp_path_factory.mktemp("realtime")).start()
    yield server
    server.stop()


def message(mid: int, conversation_id: int, author: str = "staff", body: str = "hi") -> dict:
    return {
        "id": mid,
        "conversation_id": conversation_id,
        "author": author,
        "body": body,
        "channel": "admin",
        "created_at": "2026-12-05T00:00:00Z",
        "staff_name": "Sam",
    }


def is_event(name: str, **fields):
    return lambda e: e.event == name and all(e.data.get(k) == v for k, v in fields.items())


def tampered(token: str) -> str:
    """The same claims under another signature."""
    head, _, signature = token.rpartition(".")
    return f"{head}.{signature[::-1]}"


# -- tokens ------------------------------------------------------------------------------


def test_bad_tokens_are_refused_with_401(realtime):
    shop = new_shop()
    shopper_ok = realtime.shopper_token(shop, 1)
    staff_ok = realtime.staff_token(shop)
    refused = {
        "no token": ("/events/shopper", ""),
        "garbage": ("/events/shopper", "not-a-token"),
        "another secret": (
            "/events/shopper",
            issue_realtime_token(
                "someone-elses-secret", shop_id=shop, audience="shopper", conversation_id=1
            ),
        ),
        "expired": ("/events/shopper", realtime.shopper_token(shop, 1, ttl=-30)),
        "tampered": ("/events/shopper", tampered(shopper_ok)),
        "shopper token on the staff stream": ("/events/staff", shopper_ok),
        "staff token on the shopper stream": ("/events/shopper", staff_ok),
    }
    for why, (path, token) in refused.items():
        response = httpx.get(f"{realtime.url}{path}?token={quote(token)}", timeout=10)
        assert response.status_code == 401, why
        assert "token" in response.json()["error"], why
        # the widget's script can read the refusal (and fetch a new token)
        assert response.headers["access-control-allow-origin"] == "*", why
    for path, token in (("/events/shopper", shopper_ok), ("/events/staff", staff_ok)):
        with httpx.stream("GET", f"{realtime.url}{path}?token={quote(token)}", timeout=10) as ok:
            assert ok.status_code == 200
            assert ok.headers["content-type"].startswith("text/event-stream")


def test_a_stream_whose_token_expires_tells_the_client_to_fetch_a_new_one(realtime):
    shop = new_shop()
    token = quote(realtime.shopper_token(shop, 3, ttl=4))
    with streams() as opened:
        stream = SSEClient(realtime.url, f"/events/shopper?token={token}")
        opened.append(stream)
        stream.wait_ready()
        stream.next(lambda e: e.event == "token_expired")
        assert stream.ended.wait(30), "the stream stays open after telling the client to go"


# -- who hears what ----------------------------------------------------------------------


def test_a_shopper_hears_only_its_own_conversation_and_never_notes(realtime):
    shop, other_shop = new_shop(), new_shop()
    r = realtime.redis
    with streams() as opened:
        mine = realtime.shopper(shop, 5)
        neighbour = realtime.shopper(shop, 6)
        same_id_other_shop = realtime.shopper(other_shop, 5)
        opened += [mine, neighbour, same_id_other_shop]
        for stream in opened:
            stream.wait_ready()

        publish.publish_message(r, message(1, 5), shop_id=shop, conversation_id=5, to_shopper=True)
        publish.publish_message(
            r,
            message(2, 5, "note", "private: refund?"),
            shop_id=shop,
            conversation_id=5,
            to_shopper=True,
        )
        publish.publish_message(r, message(3, 6), shop_id=shop, conversation_id=6, to_shopper=True)
        publish.publish_event(
            r,
            shop_id=shop,
            conversation_id=5,
            event="typing",
            data={"author": "staff"},
            to_shopper=True,
            to_staff=False,
        )
        # the shopper's own view of a staff message, when it differs from the staff's
        publish.publish_message(
            r,
            message(4, 5),
            shop_id=shop,
            conversation_id=5,
            to_shopper=True,
            shopper_json={**message(4, 5), "staff_name": "S."},
        )
        publish.publish_message(r, message(9, 5, "system", "end"), shop_id=shop,
                                conversation_id=5, to_shopper=True)  # fmt: skip
        publish.publish_message(r, message(9, 6, "system", "end"), shop_id=shop,
                                conversation_id=6, to_shopper=True)  # fmt: skip
        publish.publish_message(r, message(9, 5, "system", "end"), shop_id=other_shop,
                                conversation_id=5, to_shopper=True)  # fmt: skip

        mine.next(is_event("message", id=9))
        assert [(e.event, e.data.get("id")) for e in mine.seen if e.event != "ready"] == [
            ("message", 1),
            ("typing", None),
            ("message", 4),
            ("message", 9),
        ]
        assert mine.seen[3].data["staff_name"] == "S."
        assert all(e.data.get("author") != "note" for e in mine.seen)
        assert "private" not in repr(mine.seen)

        neighbour.next(is_event("message", id=9))
        assert [e.data.get("id") for e in neighbour.seen if e.event == "message"] == [3, 9]
        same_id_other_shop.next(is_event("message", id=9))
        assert [e.data.get("id") for e in same_id_other_shop.seen if e.event == "message"] == [9]


def test_notes_never_reach_a_shopper_channel_even_when_asked(realtime):
    """publish_message keeps a note off the shopper's channel whatever the caller says."""
    shop = new_shop()
    pubsub = realtime.redis.pubsub()
    pubsub.subscribe(publish.shopper_channel(shop, 1), publish.staff_channel(shop))
    wait_until(lambda: pubsub.get_message(timeout=0.1) is None and pubsub.subscribed, 10)
    publish.publish_message(
        realtime.redis, message(1, 1, "note"), shop_id=shop, conversation_id=1, to_shopper=True
    )
    publish.publish_message(
        realtime.redis, message(2, 1, "staff"), shop_id=shop, conversation_id=1, to_shopper=True,
        shopper_json=message(2, 1, "note"),
    )  # fmt: skip
    publish.publish_message(
        realtime.redis, message(3, 1), shop_id=shop, conversation_id=1, to_shopper=False
    )
    publish.publish_message(
        realtime.redis, message(4, 1), shop_id=shop, conversation_id=1, to_shopper=True
    )
    received: list[tuple[str, int]] = []

    def got_last() -> bool:
        m = pubsub.get_message(timeout=0.2)
        if m and m["type"] == "message":
            received.append((m["channel"].decode(), json.loads(m["data"])["data"]["id"]))
        return (publish.shopper_channel(shop, 1), 4) in received

    wait_until(got_last, 20, "the last message on the shopper channel")
    assert [mid for ch, mid in received if ch == publish.shopper_channel(shop, 1)] == [4]
    pubsub.close()
    with pytest.raises(ValueError):
        publish.publish_event(
            realtime.redis, shop_id=shop, conversation_id=1, event="message", data={},
            to_shopper=True, to_staff=True,
        )  # fmt: skip


def test_staff_hear_everything_of_their_shop_and_nothing_of_another(realtime):
    shop, other_shop = new_shop(), new_shop()
    r = realtime.redis
    with streams() as opened:
        staff = realtime.staff(shop)
        colleague = realtime.staff(shop)
        other = realtime.staff(other_shop)
        opened += [staff, colleague, other]
        for stream in opened:
            stream.wait_ready()
        publish.publish_message(
            r, message(1, 5, "shopper"), shop_id=shop, conversation_id=5, to_shopper=False
        )
        publish.publish_message(
            r, message(2, 6, "note", "internal"), shop_id=shop, conversation_id=6, to_shopper=True
        )
        publish.publish_event(
            r, shop_id=shop, conversation_id=5, event="typing", data={"author": "shopper"},
            to_shopper=False, to_staff=True,
        )  # fmt: skip
        publish.publish_event(
            r, shop_id=shop, conversation_id=6, event="conversation", data={"status": "inactive"},
            to_shopper=False, to_staff=True,
        )  # fmt: skip
        publish.publish_message(
            r, message(7, 5, "shopper", "other shop"), shop_id=other_shop, conversation_id=5,
            to_shopper=False,
        )  # fmt: skip
        publish.publish_message(r, message(9, 5), shop_id=shop, conversation_id=5,
                                to_shopper=False)  # fmt: skip
        publish.publish_message(r, message(9, 5), shop_id=other_shop, conversation_id=5,
                                to_shopper=False)  # fmt: skip
        for stream in (staff, colleague):
            stream.next(is_event("message", id=9))
            assert [
                (e.event, e.data.get("id") or e.data.get("conversation_id"))
                for e in stream.seen
                if e.event != "ready"
            ] == [
                ("message", 1),
                ("message", 2),
                ("typing", 5),
                ("conversation", 6),
                ("message", 9),
            ]
            assert "other shop" not in repr(stream.seen)
        other.next(is_event("message", id=9))
        assert [e.data.get("id") for e in other.seen if e.event == "message"] == [7, 9]


def test_cors_lets_the_storefront_and_the_admin_open_streams(realtime):
    shop = new_shop()
    for origin in ("https://alpha-shop.myshopify.com", "https://shop.example.com"):
        preflight = httpx.options(
            f"{realtime.url}/events/shopper",
            headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
            timeout=10,
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "GET" in preflight.headers["access-control-allow-methods"]
        # no credentials: the token is the only authority
        assert "access-control-allow-credentials" not in preflight.headers
    with streams() as opened:
        shopper = realtime.shopper(shop, 1, origin="https://alpha-shop.myshopify.com")
        staff = realtime.staff(shop, origin="http://127.0.0.1:8080")
        opened += [shopper, staff]
        for stream in opened:
            assert stream.status == 200
            assert stream.headers["access-control-allow-origin"] == "*"
            assert stream.headers["cache-control"].startswith("no-cache")


# -- presence ----------------------------------------------------------------------------


def test_presence_follows_the_shoppers_connections(realtime):
    shop = new_shop()
    r = realtime.redis
    with streams() as opened:
        staff = realtime.staff(shop)
        opened.append(staff)
        staff.wait_ready()
        assert not presence.is_online(r, shop, 5)

        tab = realtime.shopper(shop, 5)
        opened.append(tab)
        tab.wait_ready()
        staff.next(is_event("presence", conversation_id=5, online=True))
        assert presence.is_online(r, shop, 5)
        assert presence.online_among(r, shop, [5, 6, 7]) == {5}
        assert not presence.is_online(r, new_shop(), 5)  # the same id in another shop

        # a second tab (or the next page) opens before the first closes: no flicker
        second = realtime.shopper(shop, 5)
        opened.append(second)
        second.wait_ready()
        tab.close()
        wait_until(
            lambda: r.zcard(presence.conversation_key(shop, 5)) == 1,
            30,
            "the closed tab's connection to be swept",
        )
        assert presence.is_online(r, shop, 5)
        publish.publish_event(
            r, shop_id=shop, conversation_id=5, event="conversation", data={"mark": True},
            to_shopper=False, to_staff=True,
        )  # fmt: skip
        staff.next(is_event("conversation", mark=True))
        assert not [e for e in staff.seen if e.event == "presence" and not e.data["online"]]

        second.close()
        staff.next(is_event("presence", conversation_id=5, online=False))
        assert not presence.is_online(r, shop, 5)
        assert presence.online_among(r, shop, [5, 6]) == set()
        assert r.zcard(presence.conversation_key(shop, 5)) == 0


def test_a_killed_realtime_process_leaves_no_shopper_online(realtime, redis_url, tmp_path):
    """Its heartbeat stops; the connections expire and the surviving process sweeps them."""
    shop = new_shop()
    doomed = Realtime(redis_url, tmp_path, "doomed").start()
    try:
        with streams() as opened:
            staff = realtime.staff(shop)
            opened.append(staff)
            staff.wait_ready()
            tabs = [doomed.shopper(shop, c) for c in (11, 12)]
            opened.extend(tabs)
            for tab in tabs:
                tab.wait_ready()
            for conversation_id in (11, 12):
                staff.next(is_event("presence", conversation_id=conversation_id, online=True))
            assert presence.online_among(realtime.redis, shop, [11, 12]) == {11, 12}

            doomed.kill()
            offline = set()
            while offline != {11, 12}:
                event = staff.next(is_event("presence", online=False), timeout=60)
                offline.add(event.data["conversation_id"])
            assert presence.online_among(realtime.redis, shop, [11, 12]) == set()
            # the survivor serves the shopper who reconnects, who is online again
            again = realtime.shopper(shop, 11)
            opened.append(again)
            again.wait_ready()
            staff.next(is_event("presence", conversation_id=11, online=True))
    finally:
        doomed.stop()


def test_health_reports_connections(realtime):
    shop = new_shop()
    with streams() as opened:
        stream = realtime.staff(shop)
        opened.append(stream)
        stream.wait_ready()
        after = httpx.get(f"{realtime.url}/health", timeout=10).json()
        assert after["ok"] and after["connections"] >= 1


def test_losing_redis_ends_every_stream_so_clients_reconnect_and_catch_up(realtime):
    """What was published while the process had no Redis is lost to its streams: it ends
    them (clients reconnect, then fetch `after=<last id>`) rather than go on silently."""
    shop = new_shop()
    with streams() as opened:
        shopper = realtime.shopper(shop, 1)
        staff = realtime.staff(shop)
        opened += [shopper, staff]
        for stream in opened:
            stream.wait_ready()
        name = f"{PUBSUB_CLIENT_NAME}-{socket.gethostname()}-{realtime.proc.pid}"
        mine = [c for c in realtime.redis.client_list(_type="pubsub") if c["name"] == name]
        assert len(mine) == 1  # this process's only (not RQ's, not another test run's)
        realtime.redis.client_kill_filter(_id=mine[0]["id"])
        for stream in (shopper, staff):
            assert stream.ended.wait(30), "a stream outlived the Redis connection it relied on"
        wait_until(realtime._healthy, 30, "the process to reconnect to Redis")
        again = realtime.shopper(shop, 1)
        opened.append(again)
        again.wait_ready()
        publish.publish_message(
            realtime.redis, message(1, 1), shop_id=shop, conversation_id=1, to_shopper=True
        )
        again.next(is_event("message", id=1))


def test_a_stopped_process_ends_its_streams_and_its_shoppers_go_offline(
    realtime, redis_url, tmp_path
):
    """SIGTERM (a deploy): the streams end at once (clients reconnect elsewhere) and the
    shoppers get the grace, then go offline unless they came back."""
    shop = new_shop()
    leaving = Realtime(redis_url, tmp_path, "leaving").start()
    try:
        with streams() as opened:
            staff = realtime.staff(shop)
            opened.append(staff)
            staff.wait_ready()
            tab = leaving.shopper(shop, 21)
            opened.append(tab)
            tab.wait_ready()
            staff.next(is_event("presence", conversation_id=21, online=True))
            leaving.stop()
            assert leaving.proc is not None and leaving.proc.returncode == 0
            assert tab.ended.wait(30)
            staff.next(is_event("presence", conversation_id=21, online=False))
            assert not presence.is_online(realtime.redis, shop, 21)
    finally:
        leaving.stop()
