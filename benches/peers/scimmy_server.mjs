// SCIMMY (npm scimmy + scimmy-routers, behind express) as an in-memory SCIM
// peer for the scimitar benchmarks.
//
//   node benches/peers/scimmy_server.mjs <port>
//
// Serves http://127.0.0.1:<port>/scim/v2 (127.0.0.1 only). Packages come from
// the npm prefix that install.sh fills: $BENCH_PEERS_DIR/node/node_modules
// (default ~/.cache/scimitar/bench-peers/node/node_modules), so plain `node`
// works without NODE_PATH.
//
// Env SCIMMY_BENCH_TOKEN: if set, require "Authorization: Bearer <token>";
// unset (default): accept every request.
//
// One process, one event loop thread: the handlers are synchronous, so every
// request is served to completion in turn.
import {createRequire} from "node:module";
import {randomUUID} from "node:crypto";
import http from "node:http";
import os from "node:os";
import path from "node:path";

const port = Number.parseInt(process.argv[2], 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error("usage: node scimmy_server.mjs <port>");
    process.exit(2);
}

const peersDir = process.env.BENCH_PEERS_DIR ?? path.join(os.homedir(), ".cache", "scimitar", "bench-peers");
const require = createRequire(path.join(peersDir, "node", "package.json"));
let express, SCIMMY, SCIMMYRouters;
try {
    express = require("express");
    SCIMMY = require("scimmy");
    SCIMMYRouters = require("scimmy-routers").SCIMMYRouters;
} catch (ex) {
    console.error(`scimmy_server: cannot load packages from ${peersDir}/node (run benches/peers/install.sh): ${ex.message}`);
    process.exit(1);
}
// The CommonJS builds export the class as module.exports.default.
SCIMMY = SCIMMY.default ?? SCIMMY;

const TOKEN = process.env.SCIMMY_BENCH_TOKEN || null;
const BASE_PATH = "/scim/v2";
const ORIGIN = `http://127.0.0.1:${port}`;

const scimError = (status, scimType, message) => new SCIMMY.Types.Error(status, scimType, message);

// In-memory store of one resource type: id -> plain JSON record, in insertion
// order, plus an optional case-insensitive unique index on one string
// attribute (userName for User, displayName is not unique for Group).
class Store {
    constructor(uniqueAttr) {
        this.byId = new Map();
        this.uniqueAttr = uniqueAttr;
        this.unique = new Map(); // lowercased value -> id
    }

    get(id) {
        const record = this.byId.get(id);
        if (!record) throw scimError(404, null, `Resource ${id} not found`);
        return record;
    }

    // Filter fast path: a single `<uniqueAttr> eq "<string>"` expression, as
    // SCIMMY parses it: [{userName: ["eq", "value"]}]. RFC 7643 makes userName
    // case-insensitive, so is the index. Anything else goes to SCIMMY's own
    // matcher over all records (note: its `eq` compares strings case-sensitively).
    list(filter) {
        if (!filter) return [...this.byId.values()];
        if (this.uniqueAttr && filter.length === 1) {
            const entries = Object.entries(filter[0]);
            if (entries.length === 1) {
                const [attr, expr] = entries[0];
                if (attr.toLowerCase() === this.uniqueAttr.toLowerCase() && Array.isArray(expr)
                    && expr.length === 2 && String(expr[0]).toLowerCase() === "eq" && typeof expr[1] === "string") {
                    const id = this.unique.get(expr[1].toLowerCase());
                    return id === undefined ? [] : [this.byId.get(id)];
                }
            }
        }
        try {
            return filter.match([...this.byId.values()]);
        } catch {
            // SCIMMY 1.3.5's matcher throws a TypeError on a sub-attribute filter
            // (e.g. emails.value eq "x") when some record lacks the attribute:
            // match record by record, and count a throw as no match.
            return [...this.byId.values()].filter((record) => {
                try {
                    return filter.match([record]).length > 0;
                } catch {
                    return false;
                }
            });
        }
    }

    uniqueKey(record) {
        const value = this.uniqueAttr ? record[this.uniqueAttr] : undefined;
        return typeof value === "string" ? value.toLowerCase() : undefined;
    }

    // Create (id undefined) or replace (id given) a record from an ingress instance.
    put(id, instance) {
        const data = JSON.parse(JSON.stringify(instance)); // plain JSON, SCIMMY accessors dropped
        delete data.id;
        delete data.meta;
        const previous = id === undefined ? undefined : this.get(id);
        const newId = id ?? randomUUID();
        const key = this.uniqueKey(data);
        if (key !== undefined) {
            const owner = this.unique.get(key);
            if (owner !== undefined && owner !== newId)
                throw scimError(409, "uniqueness", `${this.uniqueAttr} '${data[this.uniqueAttr]}' is already in use`);
        }
        const now = new Date();
        const record = {
            ...data,
            id: newId,
            meta: {created: previous?.meta.created ?? now, lastModified: now},
        };
        if (previous) {
            const oldKey = this.uniqueKey(previous);
            if (oldKey !== undefined && this.unique.get(oldKey) === newId) this.unique.delete(oldKey);
        }
        if (key !== undefined) this.unique.set(key, newId);
        this.byId.set(newId, record);
        return record;
    }

    delete(id) {
        const record = this.get(id);
        const key = this.uniqueKey(record);
        if (key !== undefined && this.unique.get(key) === id) this.unique.delete(key);
        this.byId.delete(id);
    }
}

const users = new Store("userName");
const groups = new Store(null);

const egress = (store) => (resource) => (resource.id ? store.get(resource.id) : store.list(resource.filter));
const ingress = (store) => (resource, instance) => store.put(resource.id, instance);

SCIMMY.Resources.declare(SCIMMY.Resources.User)
    .ingress(ingress(users))
    .egress(egress(users))
    .degress((resource) => {
        users.delete(resource.id);
        // Drop the deleted user from the groups that list it (RFC 7644 §3.6).
        for (const group of groups.byId.values()) {
            if (Array.isArray(group.members) && group.members.some((m) => m.value === resource.id)) {
                group.members = group.members.filter((m) => m.value !== resource.id);
                if (!group.members.length) delete group.members;
                group.meta.lastModified = new Date();
            }
        }
    });

SCIMMY.Resources.declare(SCIMMY.Resources.Group)
    .ingress(ingress(groups))
    .egress(egress(groups))
    .degress((resource) => groups.delete(resource.id));

// SCIMMY's Resource#read() turns EVERY record egress returns into a schema
// instance before ListResponse slices out the page, so an unfiltered
// GET /Users costs O(store size) conversions (about 1 s at 6,000 users). For
// lists without sortBy, build only the requested page instead; the response is
// the same (same order, totalResults, startIndex, itemsPerPage = count, default
// count 20), except past the end: startIndex > totalResults gives an empty
// page, where stock SCIMMY 1.3.5 returns the first page. With sortBy, or with
// SCIMMY_BENCH_STOCK_LIST=1, SCIMMY's own read.
const pagedRead = (Resource, store) => {
    const stockRead = Resource.prototype.read;
    Resource.prototype.read = async function (ctx) {
        if (this.id || this.constraints?.sortBy !== undefined) return stockRead.call(this, ctx);
        try {
            const matches = store.list(this.filter);
            const startIndex = Math.max(this.constraints?.startIndex ?? 1, 1);
            const count = Math.max(this.constraints?.count ?? 20, 0);
            const page = matches.slice(startIndex - 1, startIndex - 1 + count)
                .map((record) => new Resource.schema(record, "out", Resource.basepath(), this.attributes));
            // startIndex 1 here, so that ListResponse does not slice the page again.
            const list = new SCIMMY.Messages.ListResponse(page, {totalResults: matches.length, itemsPerPage: count});
            list.startIndex = startIndex;
            return list;
        } catch (ex) {
            if (ex instanceof SCIMMY.Types.Error) throw ex;
            throw scimError(400, "invalidValue", ex.message);
        }
    };
};
if (process.env.SCIMMY_BENCH_STOCK_LIST !== "1") {
    pagedRead(SCIMMY.Resources.User, users);
    pagedRead(SCIMMY.Resources.Group, groups);
}

const app = express();
app.disable("x-powered-by");
app.set("etag", false); // no body-hash ETags / 304s: not SCIM versioning, and costs CPU
app.use(BASE_PATH, new SCIMMYRouters({
    type: "bearer",
    handler: (req) => {
        if (TOKEN !== null && req.header("Authorization") !== `Bearer ${TOKEN}`)
            throw new Error("Invalid or missing bearer token");
        return "bench";
    },
    context: () => undefined,
    // Absolute meta.location, like the other peer; without it they are relative.
    baseUri: () => ORIGIN,
}));
// scimmy-routers answers an unexpected error (e.g. a malformed filter, which
// SCIMMY parses into a plain TypeError) with a SCIM 500 and then passes it on;
// express's final handler would log a stack trace and destroy the socket.
// The response is already sent: keep the connection and stay quiet.
app.use((err, req, res, next) => {
    if (res.headersSent) return;
    next(err);
});

const server = http.createServer(app);
server.keepAliveTimeout = 75_000; // Node's 5 s default drops idle pooled connections
server.headersTimeout = 76_000;
server.listen(port, "127.0.0.1", () => {
    console.log(`scimmy on ${ORIGIN}${BASE_PATH} (express, 1 process, event loop; auth: ${TOKEN ? "bearer" : "none"})`);
});

const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
