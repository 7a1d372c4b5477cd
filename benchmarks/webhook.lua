-- wrk script for benchmarks/webhook.py: replays pre-built, pre-signed webhook requests.
--
-- Every wrk thread has its own Lua state, so each one loads its own file
-- ($ATENDE_BENCH_REQUESTS.<thread index>): no two threads share a WhatsApp message id, and no
-- id is sent twice unless a thread runs out of requests (counted in "wrapped").
--
-- The files hold complete HTTP requests (headers, signature and body, formatted by Python) as
-- records of a 10-digit length followed by that many bytes: init() then does no string work,
-- which matters because thread 0 already sends while the next thread is still loading.

local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

function init(args)
   local path = os.getenv("ATENDE_BENCH_REQUESTS") .. "." .. thread_index
   local file = assert(io.open(path, "rb"))
   prepared = {}
   while true do
      local size = file:read(10)
      if not size then
         break
      end
      prepared[#prepared + 1] = file:read(tonumber(size))
   end
   file:close()
   count = #prepared
   position = 0
   wrapped = 0
end

function request()
   position = position + 1
   if position > count then
      position = 1
      wrapped = wrapped + 1
   end
   return prepared[position]
end

-- One JSON line, so the Python side never scrapes wrk's human-readable units.
function done(summary, latency, requests)
   local wraps, loaded = 0, 0
   for _, thread in ipairs(threads) do
      wraps = wraps + thread:get("wrapped")
      loaded = loaded + thread:get("count")
   end
   local errors = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %.0f, "duration_us": %.0f, "bytes": %.0f, '
         .. '"errors": {"connect": %.0f, "read": %.0f, "write": %.0f, "status": %.0f, '
         .. '"timeout": %.0f}, "latency_us": {"mean": %.1f, "max": %.0f, "p50": %.0f, '
         .. '"p90": %.0f, "p99": %.0f, "p999": %.0f}, "wrapped": %.0f, "loaded": %.0f}\n',
      summary.requests, summary.duration, summary.bytes,
      errors.connect, errors.read, errors.write, errors.status, errors.timeout,
      latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9), wraps, loaded
   ))
end
