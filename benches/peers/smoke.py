"""Smoke test + rough throughput check of a SCIM peer (stdlib only).

Usage: python3 smoke.py BASE_URL [N_USERS] [N_FILTER_GETS]
  e.g. python3 smoke.py http://127.0.0.1:18081/scim/v2 1000 200
Env SCIM_TOKEN: bearer token to send (default "bench").

Uses one keep-alive HTTP/1.1 connection (reconnects if the server closes it).
Sequential, bounded, loopback only. Exits non-zero on a failed check.
"""

import http.client
import json
import os
import sys
import time
import urllib.parse

BASE = sys.argv[1].rstrip("/")
N_USERS = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
N_GETS = int(sys.argv[3]) if len(sys.argv) > 3 else 200
u = urllib.parse.urlsplit(BASE)
assert u.hostname in ("127.0.0.1", "localhost", "::1"), "loopback only"
PREFIX = u.path
HDRS = {
    "Authorization": f"Bearer {os.environ.get('SCIM_TOKEN', 'bench')}",
    "Content-Type": "application/scim+json",
    "Accept": "application/scim+json",
}
conn = None
reconnects = 0


def req(method, path, body=None):
    global conn, reconnects
    data = None if body is None else json.dumps(body).encode()
    for attempt in (0, 1):
        if conn is None:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
            reconnects += 1
        try:
            conn.request(method, PREFIX + path, body=data, headers=HDRS)
            r = conn.getresponse()
            raw = r.read()
            if r.getheader("Connection", "").lower() == "close" or r.will_close:
                conn.close()
                conn = None
            return r.status, (json.loads(raw) if raw else None), dict(r.getheaders())
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()
            conn = None
            if attempt:
                raise


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        sys.exit(1)


def q(f):
    return "/Users?filter=" + urllib.parse.quote(f)


USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
tag = str(int(time.time() * 1000))

s, b, h = req("POST", "/Users", {"schemas": [USER], "userName": f"smoke-{tag}"})
check(s == 201 and b and b.get("id"), f"POST /Users -> {s}, id={b and b.get('id')}, Location={h.get('Location')}")
uid = b["id"]
s, b, _ = req("GET", q(f'userName eq "smoke-{tag}"'))
check(s == 200 and b["totalResults"] == 1 and b["Resources"][0]["id"] == uid, f"GET filter userName eq -> {s}, totalResults={b['totalResults']}")
s, b, _ = req("GET", f"/Users/{uid}")
check(s == 200 and b["id"] == uid, f"GET /Users/id -> {s}")
s, b, _ = req("POST", "/Users", {"schemas": [USER], "userName": f"smoke-{tag}"})
print(f"info duplicate userName POST -> {s}")
s, b, _ = req("POST", "/Groups", {"schemas": [GROUP], "displayName": f"g-{tag}"})
check(s == 201 and b.get("id"), f"POST /Groups -> {s}")
gid = b["id"]
s, b, h = req("PATCH", f"/Groups/{gid}", {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}]})
check(s in (200, 204), f"PATCH /Groups add member -> {s} (Connection: {h.get('Connection', '-')})")
s, b, _ = req("GET", f"/Groups/{gid}")
check(s == 200 and [m["value"] for m in b.get("members", [])] == [uid], f"GET /Groups/id members={b.get('members')}")
s, b, _ = req("PUT", f"/Users/{uid}", {"schemas": [USER], "userName": f"smoke-{tag}", "displayName": "Put"})
check(s == 200 and b.get("displayName") == "Put", f"PUT /Users/id -> {s}")
s, b, _ = req("PATCH", f"/Users/{uid}", {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]})
check(s in (200, 204), f"PATCH /Users/id replace active -> {s}")
s, b, _ = req("GET", "/Users")
print(f"info GET /Users (no count) -> {s}, totalResults={b['totalResults']}, returned={len(b.get('Resources', []))}")
s, b, _ = req("DELETE", f"/Groups/{gid}")
check(s == 204, f"DELETE /Groups/id -> {s}")
s, b, _ = req("DELETE", f"/Users/{uid}")
check(s == 204, f"DELETE /Users/id -> {s}")
s, b, _ = req("GET", f"/Users/{uid}")
check(s == 404, f"GET deleted user -> {s}")

if N_USERS:
    t0 = time.perf_counter()
    for i in range(N_USERS):
        s, b, _ = req("POST", "/Users", {"schemas": [USER], "userName": f"bulk-{tag}-{i}", "name": {"givenName": "B", "familyName": str(i)}, "emails": [{"value": f"b{i}@example.com", "primary": True}]})
        if s != 201:
            check(False, f"bulk POST {i} -> {s} {b}")
    t1 = time.perf_counter()
    print(f"perf {N_USERS} sequential POST /Users: {t1 - t0:.2f}s ({N_USERS / (t1 - t0):.0f} req/s)")
    t0 = time.perf_counter()
    for i in range(N_GETS):
        k = (i * 7919) % N_USERS
        s, b, _ = req("GET", q(f'userName eq "bulk-{tag}-{k}"'))
        if s != 200 or b["totalResults"] != 1:
            check(False, f"filter GET {k} -> {s} {b}")
    t1 = time.perf_counter()
    print(f"perf {N_GETS} sequential filter GETs (store >= {N_USERS} users): {t1 - t0:.2f}s ({N_GETS / (t1 - t0):.0f} req/s, {1000 * (t1 - t0) / N_GETS:.2f} ms/req)")
print(f"info TCP connections opened: {reconnects}")
print("smoke OK")
