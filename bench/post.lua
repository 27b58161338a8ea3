-- wrk script for bench/run: POSTs a JSON body with content-type JSON.
--   BENCH_BODY   file holding the body (default bench/order.json)
--   BENCH_STAMP  "1": put "sent_at" (Unix ms, now) first in the body of each request
--   BENCH_LIMIT  requests per thread; the thread stops after that many answers
--   BENCH_DELAY  milliseconds each connection waits before its next request (rate limit)
-- done() prints one line "BENCH_RESULT {json}" for bench/run to read.
local path = os.getenv("BENCH_BODY") or "bench/order.json"
local f = assert(io.open(path, "rb"))
local body = f:read("*a"):gsub("%s+$", "")
f:close()

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = body

local stamp = os.getenv("BENCH_STAMP") == "1"
local limit = tonumber(os.getenv("BENCH_LIMIT") or "")
local pause = tonumber(os.getenv("BENCH_DELAY") or "")
local rest = body:sub(2) -- the object without its "{"

local now_ms
if stamp then
  local ffi = require("ffi")
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_usec; } bench_timeval;
    int gettimeofday(bench_timeval *tv, void *tz);
  ]]
  local tv = ffi.new("bench_timeval")
  now_ms = function()
    ffi.C.gettimeofday(tv, nil)
    return tonumber(tv.tv_sec) * 1000 + math.floor(tonumber(tv.tv_usec) / 1000)
  end
end

function request()
  if stamp then
    return wrk.format(nil, nil, nil, '{"sent_at":' .. now_ms() .. ',' .. rest)
  end
  return wrk.format()
end

if pause then
  function delay() return pause end
end

if limit then
  local answered = 0
  function response(status, headers, body)
    answered = answered + 1
    if answered >= limit then wrk.thread:stop() end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
