#!/usr/bin/env python3
"""The chat scenario of `yiqiao bench --scenario chat` against Matrix Synapse (the S2 peer).

Same shape: N rooms of 2 users (a "patient" and a "doctor"; few accounts share many rooms, as in
our bench: min(N, 100) per side), every user online with one `/sync` long-poll loop, messages
sent through the client-server API `PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}`
alternately by the two members of each room, by S concurrent senders with one request in flight
each. Latency = just before the PUT → the event read from the other member's `/sync`. The send
instant travels in the message body. Loopback only; stops by itself.

Run (after scripts/peer/synapse-setup.sh and starting Synapse):
  taskset -c 0,1 ~/.cache/synapse/venv/bin/python scripts/peer/synapse_chat.py --rooms 1000
"""

import argparse
import asyncio
import json
import time
import uuid

import aiohttp

FILTER = json.dumps(
    {
        "presence": {"types": []},
        "account_data": {"types": []},
        "room": {
            "timeline": {"limit": 50, "types": ["m.room.message"]},
            "state": {"types": []},
            "ephemeral": {"types": []},
            "account_data": {"types": []},
        },
    }
)


def pct(sorted_us, permille):
    if not sorted_us:
        return 0.0
    rank = max(1, -(-permille * len(sorted_us) // 1000))
    return sorted_us[min(rank, len(sorted_us)) - 1] / 1000.0


async def register(http, base, name):
    body = {"username": name, "password": "Bench-Passw0rd!", "auth": {"type": "m.login.dummy"}}
    async with http.post(f"{base}/_matrix/client/v3/register", json=body) as r:
        data = await r.json()
        if r.status != 200:
            raise RuntimeError(f"register {name}: {r.status} {data}")
        return data["user_id"], data["access_token"]


async def create_room(http, base, patient, doctor):
    h = {"Authorization": f"Bearer {patient[1]}"}
    body = {"preset": "private_chat", "invite": [doctor[0]], "is_direct": True}
    async with http.post(f"{base}/_matrix/client/v3/createRoom", json=body, headers=h) as r:
        data = await r.json()
        if r.status != 200:
            raise RuntimeError(f"createRoom: {r.status} {data}")
        room = data["room_id"]
    h = {"Authorization": f"Bearer {doctor[1]}"}
    async with http.post(f"{base}/_matrix/client/v3/rooms/{room}/join", json={}, headers=h) as r:
        if r.status != 200:
            raise RuntimeError(f"join: {r.status} {await r.text()}")
    return room


async def bounded(n, coros):
    sem = asyncio.Semaphore(n)

    async def one(c):
        async with sem:
            return await c

    return await asyncio.gather(*(one(c) for c in coros))


class Receiver:
    def __init__(self, user, epoch):
        self.user_id, self.token = user
        self.epoch = epoch
        self.received = []  # (txn id, latency µs)
        self.since = None
        self.prefix = "b"

    async def initial(self, http, base):
        h = {"Authorization": f"Bearer {self.token}"}
        params = {"filter": FILTER, "timeout": "0"}
        async with http.get(f"{base}/_matrix/client/v3/sync", params=params, headers=h) as r:
            self.since = (await r.json())["next_batch"]

    async def run(self, http, base, stop):
        h = {"Authorization": f"Bearer {self.token}"}
        while not stop.is_set():
            params = {"filter": FILTER, "timeout": "1000", "since": self.since}
            async with http.get(f"{base}/_matrix/client/v3/sync", params=params, headers=h) as r:
                data = await r.json()
            now = time.monotonic_ns() // 1000 - self.epoch
            self.since = data["next_batch"]
            for room in data.get("rooms", {}).get("join", {}).values():
                for ev in room.get("timeline", {}).get("events", []):
                    body = ev.get("content", {}).get("body", "")
                    if ev.get("sender") == self.user_id or not body.startswith("bench|"):
                        continue
                    _, txn, sent = body.split("|")[:3]
                    if txn.startswith(self.prefix):
                        self.received.append((txn, now - int(sent)))


async def sender(http, base, rooms, mine, epoch, deadline, interval, offset, prefix, acked, errors, ack_lat):
    counters = {i: 0 for i in mine}
    turn = 0
    # Staggered start: a paced run offers a steady stream, not bursts of one request per sender.
    next_at = time.monotonic() + offset
    while time.monotonic() < deadline and mine:
        if interval:
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            next_at += interval
        ri = mine[turn % len(mine)]
        turn += 1
        room, patient, doctor = rooms[ri]
        n = counters[ri]
        counters[ri] += 1
        user = patient if n % 2 == 0 else doctor
        sent = time.monotonic_ns() // 1000 - epoch
        txn = f"{prefix}{ri}-{n}-{uuid.uuid4().hex[:8]}"
        body = {"msgtype": "m.text", "body": f"bench|{txn}|{sent}|第{n}条基准消息：今天血压平稳，继续按时服药，有头晕请告诉我。"}
        url = f"{base}/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}"
        try:
            async with http.put(url, json=body, headers={"Authorization": f"Bearer {user[1]}"}) as r:
                await r.read()
                if r.status == 200:
                    acked.append(txn)
                    ack_lat.append(time.monotonic_ns() // 1000 - epoch - sent)
                else:
                    errors.append(r.status)
        except aiohttp.ClientError as e:
            errors.append(str(e))


async def phase(http, base, users, rooms, args, name, rate, epoch):
    receivers = [Receiver(u, epoch) for u in users]
    prefix = f"b{name}"
    for r in receivers:
        r.prefix = prefix
    await bounded(16, [r.initial(http, base) for r in receivers])
    stop = asyncio.Event()
    loops = [asyncio.create_task(r.run(http, base, stop)) for r in receivers]
    senders = min(args.senders, len(rooms))
    interval = senders / rate if rate else None
    acked, errors, ack_lat = [], [], []
    cpu0 = time.process_time()
    start = time.monotonic()
    deadline = start + args.duration
    await asyncio.gather(
        *(
            sender(
                http, base, rooms, list(range(s, len(rooms), senders)), epoch, deadline, interval,
                (interval or 0) * s / senders, prefix, acked, errors, ack_lat,
            )
            for s in range(senders)
        )
    )
    drain_deadline = time.monotonic() + 10
    while sum(len(r.received) for r in receivers) < len(acked) and time.monotonic() < drain_deadline:
        await asyncio.sleep(0.01)
    wall = time.monotonic() - start
    stop.set()
    await asyncio.gather(*loops)
    seen = {}
    lat = []
    for r in receivers:
        for txn, us in r.received:
            seen[txn] = seen.get(txn, 0) + 1
            lat.append(us)
    lat.sort()
    ack_lat.sort()
    lost = sum(1 for t in acked if t not in seen)
    dup = sum(n - 1 for n in seen.values())
    out = {
        "phase": name,
        "rooms": len(rooms),
        "users": len(users),
        "senders": senders,
        "offered": round(rate) if rate else "max",
        "acked": len(acked),
        "errors": len(errors),
        "delivered_per_s": round(len(lat) / wall, 1),
        "p50_ms": pct(lat, 500),
        "p99_ms": pct(lat, 990),
        "p999_ms": pct(lat, 999),
        "max_ms": lat[-1] / 1000 if lat else 0,
        "ack_p50_ms": pct(ack_lat, 500),
        "ack_p99_ms": pct(ack_lat, 990),
        "lost": lost,
        "duplicated": dup,
        "driver_cpu_s": round(time.process_time() - cpu0, 2),
    }
    print(json.dumps(out, ensure_ascii=False), flush=True)
    return out


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8008")
    ap.add_argument("--rooms", type=int, default=1000)
    ap.add_argument("--senders", type=int, default=32)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--rate", type=float, default=None)
    args = ap.parse_args()
    if not args.base.startswith(("http://127.0.0.1", "http://localhost")):
        raise SystemExit("loopback only")
    per_side = max(1, min(args.rooms, 100))
    run = uuid.uuid4().hex[:6]
    conn = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as http:
        t = time.monotonic()
        patients = await bounded(8, [register(http, args.base, f"p{run}{i}") for i in range(per_side)])
        doctors = await bounded(8, [register(http, args.base, f"d{run}{i}") for i in range(per_side)])
        plan = [(i % per_side, (i + i // per_side) % per_side) for i in range(args.rooms)]
        room_ids = await bounded(8, [create_room(http, args.base, patients[p], doctors[d]) for p, d in plan])
        rooms = [(room_ids[i], patients[p], doctors[d]) for i, (p, d) in enumerate(plan)]
        print(f"setup: {2 * per_side} users, {len(rooms)} rooms in {time.monotonic() - t:.1f} s", flush=True)
        epoch = time.monotonic_ns() // 1000
        users = patients + doctors
        first = await phase(http, args.base, users, rooms, args, "max" if not args.rate else "rate", args.rate, epoch)
        if not args.rate and first["delivered_per_s"] > 0:
            await phase(http, args.base, users, rooms, args, "half", first["delivered_per_s"] / 2, epoch)


if __name__ == "__main__":
    asyncio.run(main())
