#!/usr/bin/env node
// Benchmark peer for sluice's PostgreSQL flow throughput (bench/flows.sh): graphile-worker
// running a no-op job per event, measured as sluice measures itself: events keep arriving while
// jobs run, and the figure is jobs finished per second from the first job added to the last job
// completed.
//
// Usage: node bench.js PG_URL [SECONDS=10] [PRODUCERS=16] [CONCURRENCY=4]
//
// - This process installs/migrates graphile-worker's schema in PG_URL and empties its queue.
// - A child process (its own event loop, so producers and worker don't compete for one) runs a
//   graphile-worker runner with a task `noop` that does nothing: concurrency CONCURRENCY,
//   noHandleSignals, pollInterval 100 ms; new jobs reach it by LISTEN/NOTIFY. Everything else is
//   graphile-worker's default (no local queue, no batched completion).
// - PRODUCERS producers here, each with its own connection, call graphile_worker.add_job as fast
//   as they can for SECONDS: one autocommitted statement, so one durable commit, per job, each
//   with a unique payload (as one webhook stored per request).
// - Then it polls the queue until it is empty (at most 120 s); a finished job is deleted by its
//   commit, so "empty" is "all done". The time of the last completion is when the poll (every
//   20 ms) first saw the queue empty.
// Prints a result block and, last, one line of JSON. Exits non-zero on any error.
"use strict";

const { fork } = require("child_process");
const pg = require("pg");

const PEER = "graphile-worker";
const VERSION = require("graphile-worker/package.json").version;
const SCHEMA = "graphile_worker";
const DRAIN_TIMEOUT_MS = 120000;
const DRAIN_POLL_MS = 20;
const CHILD_START_TIMEOUT_MS = 30000;
const CHILD_STOP_TIMEOUT_MS = 15000;

function die(msg) {
  const e = new Error(msg);
  e.clean = true;
  throw e;
}

// A logger that drops graphile-worker's info/debug lines (one per job) and keeps warnings/errors.
function quietLogger() {
  const { Logger } = require("graphile-worker");
  return new Logger(() => (level, message) => {
    if (level === "error" || level === "warning") {
      console.error(`graphile-worker ${level}: ${message}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Child: the worker.
// ---------------------------------------------------------------------------------------------
async function workerMain(url, concurrency) {
  const { run } = require("graphile-worker");
  const { EventEmitter } = require("events");
  const events = new EventEmitter();
  let succeeded = 0;
  let failed = 0;
  let listening = false;
  let runner = null;
  let stopping = false;
  const send = (m) => process.connected && process.send(m);

  events.on("job:success", () => succeeded++);
  events.on("job:error", ({ error }) => {
    failed++;
    send({ type: "error", message: `job failed: ${error && error.message}` });
  });
  events.on("pool:listen:success", () => {
    if (!listening && runner) send({ type: "ready" });
    listening = true;
  });
  events.on("pool:listen:error", ({ error }) =>
    send({ type: "error", message: `LISTEN failed: ${error && error.message}` })
  );
  events.on("worker:fatalError", ({ error }) =>
    send({ type: "error", message: `worker fatal error: ${error && error.message}` })
  );

  async function stop(code) {
    if (stopping) return;
    stopping = true;
    try {
      if (runner) await runner.stop();
    } catch (e) {
      console.error(`graphile-worker: stopping the runner: ${e.message}`);
      code = code || 1;
    }
    send({ type: "stopped", succeeded, failed });
    process.exit(code);
  }
  process.on("message", (m) => m && m.type === "stop" && stop(0));
  // The parent went away (crashed or killed): stop rather than linger.
  process.on("disconnect", () => stop(1));
  process.on("SIGTERM", () => stop(1));
  process.on("SIGINT", () => stop(1));

  try {
    runner = await run({
      connectionString: url,
      concurrency,
      // One connection per concurrent job, one for LISTEN, one spare.
      maxPoolSize: Math.max(10, concurrency + 2),
      noHandleSignals: true,
      pollInterval: 100,
      logger: quietLogger(),
      events,
      taskList: {
        noop: async () => {},
      },
    });
  } catch (e) {
    send({ type: "error", message: `starting the runner: ${e.message}` });
    process.exit(1);
  }
  if (listening) send({ type: "ready" });
  runner.promise.catch((e) => {
    send({ type: "error", message: `runner ended: ${e.message}` });
    stop(1);
  });
}

// ---------------------------------------------------------------------------------------------
// Parent: schema, producers, measurement.
// ---------------------------------------------------------------------------------------------
function parseArgs(argv) {
  const usage = "usage: node bench.js PG_URL [SECONDS=10] [PRODUCERS=16] [CONCURRENCY=4]";
  if (argv.length < 1 || argv.length > 4 || argv[0] === "-h" || argv[0] === "--help") die(usage);
  const int = (s, name, def, min, max) => {
    if (s === undefined) return def;
    if (!/^[0-9]+$/.test(s)) die(`${name} must be a whole number, not '${s}'\n${usage}`);
    const n = Number(s);
    if (n < min || n > max) die(`${name} must be between ${min} and ${max}, not ${n}`);
    return n;
  };
  const url = argv[0];
  if (!/^postgres(ql)?:\/\//.test(url)) die(`PG_URL must be a postgres:// URL, not '${url}'\n${usage}`);
  return {
    url,
    seconds: int(argv[1], "SECONDS", 10, 1, 3600),
    producers: int(argv[2], "PRODUCERS", 16, 1, 500),
    concurrency: int(argv[3], "CONCURRENCY", 4, 1, 500),
  };
}

const fmt = (n) => Math.round(n).toLocaleString("en-US");
const secs = (ms) => (ms / 1000).toFixed(1);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function connect(url, what) {
  const c = new pg.Client({ connectionString: url });
  // An error on an idle client (the server went away) must not crash us unreported.
  c.on("error", (e) => console.error(`${what}: connection error: ${e.message}`));
  try {
    await c.connect();
  } catch (e) {
    die(`${what}: cannot connect to PostgreSQL: ${e.message}`);
  }
  return c;
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  const clients = [];
  let child = null;
  let childExit = null; // resolves with the exit code
  let childStats = null;
  let childError = null;

  async function stopChild() {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    if (child.connected) child.send({ type: "stop" });
    const t = setTimeout(() => child.kill("SIGKILL"), CHILD_STOP_TIMEOUT_MS);
    await childExit;
    clearTimeout(t);
  }
  // Interrupted: the worker stops gracefully (SIGKILL after 5 s), then we exit.
  const onSignal = async (sig) => {
    console.error(`bench.js: ${sig}: stopping`);
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await childExit;
      clearTimeout(t);
    }
    process.exit(sig === "SIGINT" ? 130 : 143);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    // 1. Schema (installed or migrated to this version), then an empty queue.
    const { runMigrations } = require("graphile-worker");
    try {
      await runMigrations({ connectionString: opt.url, logger: quietLogger() });
    } catch (e) {
      die(`installing graphile-worker's schema: ${e.message}`);
    }
    const admin = await connect(opt.url, "admin");
    clients.push(admin);
    await admin.query(
      `TRUNCATE ${SCHEMA}._private_jobs, ${SCHEMA}._private_job_queues RESTART IDENTITY`
    );

    // 2. The worker, in a child process.
    child = fork(__filename, ["--worker", opt.url, String(opt.concurrency)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    childExit = new Promise((resolve) => child.on("exit", (code, sig) => resolve(sig ? 128 : code)));
    let readyTimer = null;
    const ready = new Promise((resolve, reject) => {
      child.on("message", (m) => {
        if (m.type === "ready") resolve();
        else if (m.type === "stopped") childStats = m;
        else if (m.type === "error") {
          childError = childError || m.message;
          reject(new Error(m.message));
        }
      });
      childExit.then((code) => reject(new Error(`worker process exited (${code}) before it was ready`)));
      readyTimer = setTimeout(() => reject(new Error("worker not ready within 30 s")), CHILD_START_TIMEOUT_MS);
    });
    try {
      await ready;
    } catch (e) {
      die(`graphile-worker runner: ${e.message}`);
    } finally {
      clearTimeout(readyTimer);
    }
    let childDied = false;
    childExit.then(() => (childDied = true));

    // 3. Producers: PRODUCERS connections, one add_job per autocommitted statement.
    for (let i = 0; i < opt.producers; i++) clients.push(await connect(opt.url, `producer ${i}`));
    const producers = clients.slice(1);
    let added = 0;
    const t0 = Date.now();
    const deadline = t0 + opt.seconds * 1000;
    await Promise.all(
      producers.map(async (c, p) => {
        for (let seq = 0; Date.now() < deadline; seq++) {
          if (childDied || childError) return;
          try {
            await c.query({
              name: "add",
              text: `SELECT ${SCHEMA}.add_job('noop', json_build_object('event', $1::text))`,
              values: [`evt_${p}_${seq}`],
            });
          } catch (e) {
            die(`producer ${p}: add_job failed: ${e.message}`);
          }
          added++;
        }
      })
    );
    const tAdded = Date.now();
    if (childError) die(`graphile-worker runner: ${childError}`);
    if (childDied) die("the worker process died while jobs were being added");

    // 4. Drain: the queue is empty when every job has completed (a completed job is deleted).
    let tDone = null;
    let left = -1;
    while (Date.now() - tAdded < DRAIN_TIMEOUT_MS) {
      const r = await admin.query(
        `SELECT count(*)::int AS left, count(*) FILTER (WHERE last_error IS NOT NULL)::int AS failed
           FROM ${SCHEMA}.jobs`
      );
      left = r.rows[0].left;
      if (r.rows[0].failed > 0) die(`${r.rows[0].failed} jobs failed (see graphile_worker.jobs.last_error)`);
      if (left === 0) {
        tDone = Date.now();
        break;
      }
      if (childError) die(`graphile-worker runner: ${childError}`);
      if (childDied) die(`the worker process died with ${left} jobs left`);
      await sleep(DRAIN_POLL_MS);
    }
    if (tDone === null) die(`the queue did not drain within 120 s: ${fmt(left)} of ${fmt(added)} jobs left`);

    await stopChild();
    if (childError) die(`graphile-worker runner: ${childError}`);
    if (!childStats) die("the worker process did not report its counts");
    if (childStats.succeeded !== added) {
      die(`the worker ran ${childStats.succeeded} jobs, but ${added} were added`);
    }

    const addMs = tAdded - t0;
    const doneMs = tDone - t0;
    const addPerS = (added * 1000) / addMs;
    const donePerS = (added * 1000) / doneMs;
    console.log(
      `${PEER} ${VERSION}: ${opt.producers} producers, concurrency ${opt.concurrency}: ` +
        `added ${fmt(added)} jobs in ${secs(addMs)} s (${fmt(addPerS)}/s); ` +
        `all done ${secs(doneMs)} s after the first = ${fmt(donePerS)} jobs/s end to end`
    );
    console.log(
      JSON.stringify({
        peer: PEER,
        version: VERSION,
        producers: opt.producers,
        concurrency: opt.concurrency,
        seconds: opt.seconds,
        added,
        add_s: +(addMs / 1000).toFixed(3),
        add_per_s: Math.round(addPerS),
        done_s: +(doneMs / 1000).toFixed(3),
        done_per_s: Math.round(donePerS),
      })
    );
  } finally {
    await stopChild().catch(() => {});
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
}

if (process.argv[2] === "--worker") {
  workerMain(process.argv[3], Number(process.argv[4])).catch((e) => {
    console.error(`graphile-worker runner: ${e.stack || e}`);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(`bench.js (${PEER} peer): ${e.clean ? e.message : e.stack || e}`);
      process.exit(1);
    }
  );
}
