-- wrk script for the ingest benchmark: replays pre-signed Stripe webhooks (bench/ingest_sign.js).
--
--   node bench/ingest_sign.js N whsec_... /tmp/ev 2      # writes /tmp/ev.0 and /tmp/ev.1
--   wrk -t2 -c64 -d10s --latency -s bench/ingest.lua http://127.0.0.1:PORT/hooks/NAME -- /tmp/ev
--
-- Thread k replays its own file PREFIX.k (one part per thread: disjoint slices), so every request
-- carries a different event. init() only opens the file, so all threads start together (wrk runs
-- each thread's init() while the threads before it are already sending); request() reads the
-- next record (buffered reads from the page cache). A thread that runs out starts its slice again
-- (`wrapped`): those repeats are duplicates, which sluice answers with {"duplicate":true} and
-- this script counts (`dups`). done() prints one RESULT line.

local threads, nthreads = {}, 0

function setup(thread)
  thread:set("tid", nthreads)           -- 0-based thread index, a global in that thread's state
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

-- Per-thread counters are globals so that done() can read them with thread:get().
ok2xx, non2xx, dups, wrapped = 0, 0, 0, 0
statuses = ""                           -- "code:count,..." of the non-2xx answers
local bad = {}
local file, head                        -- this thread's records, the request's fixed head

function init(args)
  local prefix = args[1] or error("usage: wrk ... -s ingest.lua URL -- RECORDS_PREFIX")
  file = assert(io.open(prefix .. "." .. tid, "rb"))
  file:setvbuf("full", 1048576)
  head = "POST " .. wrk.path .. " HTTP/1.1\r\n" ..
         "Host: " .. wrk.host .. ":" .. tostring(wrk.port) .. "\r\n" ..
         "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n" ..
         "Content-Type: application/json; charset=utf-8\r\n" ..
         "Accept: */*; q=0.5, application/xml\r\n" ..
         "Cache-Control: no-cache\r\n"
end

function request()
  local hdr = file:read("*l")
  if not hdr then                       -- end of this thread's slice: replay it (duplicates)
    wrapped = wrapped + 1
    file:seek("set", 0)
    hdr = assert(file:read("*l"), "empty records file")
  end
  local sig, len = hdr:match("^([^\t]+)\t(%d+)$")
  local body = file:read(tonumber(len))
  return head .. "Stripe-Signature: " .. sig .. "\r\nContent-Length: " .. len .. "\r\n\r\n" .. body
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
