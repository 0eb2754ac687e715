-- wrk script for the ingest benchmark: replays pre-signed Stripe webhooks (bench/ingest_sign.js).
--
--   wrk -t2 -c64 -d10s --latency -s bench/ingest.lua http://127.0.0.1:PORT/hooks/NAME -- RECORDS 2
--   (the last argument repeats the thread count, which init() needs to pick its slice)
--
-- Each thread loads its own disjoint slice of RECORDS (record i goes to thread i % threads) as
-- ready-made requests, so every request carries a different event. A thread that runs out starts
-- its slice again; those repeats are duplicates and are reported (`wrapped`, and the `dups` count
-- from sluice's {"duplicate":true} answers). done() prints one machine-readable RESULT line.

local threads = {}
local nthreads = 0

function setup(thread)
  thread:set("tid", nthreads)           -- 0-based thread index, a global in that thread's state
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

local reqs, nreqs, pos = {}, 0, 0
-- Per-thread counters are globals so that done() can read them with thread:get().
ok2xx, non2xx, dups, wrapped = 0, 0, 0, 0
statuses = ""                           -- "code:count,..." of the non-2xx answers, for done()
local bad = {}

function init(args)
  local file = args[1] or error("usage: wrk ... -s ingest.lua URL -- RECORDS THREADS")
  local total_threads = tonumber(args[2]) or error("pass the wrk thread count after RECORDS")
  local f = assert(io.open(file, "rb"))
  local host = wrk.host .. ":" .. tostring(wrk.port)
  local i = 0
  while true do
    local hdr = f:read("*l")
    if not hdr then break end
    local sig, len = hdr:match("^([^\t]+)\t(%d+)$")
    assert(sig, "bad record header: " .. hdr)
    len = tonumber(len)
    if i % total_threads == tid then
      local body = f:read(len)
      reqs[#reqs + 1] = wrk.format("POST", wrk.path, {
        ["Host"] = host,
        ["Content-Type"] = "application/json; charset=utf-8",
        ["User-Agent"] = "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        ["Stripe-Signature"] = sig,
      }, body)
    else
      f:seek("cur", len)                -- another thread's record
    end
    i = i + 1
  end
  f:close()
  nreqs = #reqs
  assert(nreqs > 0, "no records for thread " .. tid)
end

function request()
  pos = pos + 1
  if pos > nreqs then pos = 1; wrapped = wrapped + 1 end
  return reqs[pos]
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok2xx = ok2xx + 1
    if body:find('"duplicate":true', 1, true) then dups = dups + 1 end
  else
    non2xx = non2xx + 1
    bad[status] = (bad[status] or 0) + 1
    local parts = {}
    for code, n in pairs(bad) do parts[#parts + 1] = code .. ":" .. n end
    statuses = table.concat(parts, ",")
  end
end

function done(summary, latency, requests)
  local ok, nb, dup, wrap, codes = 0, 0, 0, 0, {}
  for _, t in ipairs(threads) do
    ok = ok + t:get("ok2xx"); nb = nb + t:get("non2xx")
    dup = dup + t:get("dups"); wrap = wrap + t:get("wrapped")
    for code, n in string.gmatch(t:get("statuses"), "(%d+):(%d+)") do
      codes[code] = (codes[code] or 0) + tonumber(n)
    end
  end
  local code_list = {}
  for code, n in pairs(codes) do code_list[#code_list + 1] = code .. "x" .. n end
  table.sort(code_list)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_s=%.3f ok2xx=%d non2xx=%d dups=%d wrapped=%d " ..
    "sock_connect=%d sock_read=%d sock_write=%d sock_timeout=%d " ..
    "p50_ms=%.3f p75_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx_statuses=%s\n",
    summary.requests, summary.duration / 1e6, ok, nb, dup, wrap,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(75) / 1e3, latency:percentile(90) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3,
    #code_list > 0 and table.concat(code_list, ",") or "none"))
end
