-- wrk script for benchmarks/webhook.py: replays pre-built, pre-signed webhook requests.
--
-- Every wrk thread has its own Lua state, so each one reads its own file
-- ($ATENDE_BENCH_REQUESTS.<thread index>): no two threads share a WhatsApp message id, and no
-- id is sent twice unless a thread runs out of requests (counted in "wrapped").
--
-- The files hold complete HTTP requests (headers, signature and body, formatted by Python) as
-- records of a 10-digit length followed by that many bytes. Each request is read from the file
-- when it is sent, not loaded up front: wrk starts thread 0 while the next thread is still in
-- init(), and loading ~150 MB there took ~0.5 s, time in which thread 0 sent requests that wrk
-- then divided by the measured duration.

local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

function init(args)
   file = assert(io.open(os.getenv("ATENDE_BENCH_REQUESTS") .. "." .. thread_index, "rb"))
   count = 0
   wrapped = 0
end

local function next_record()
   local size = file:read(10)
   if size then
      return file:read(tonumber(size))
   end
end

function request()
   local record = next_record()
   if not record then
      -- Out of requests: start over; the repeats are duplicates the server deduplicates.
      file:seek("set", 0)
      wrapped = wrapped + 1
      record = next_record()
   end
   count = count + 1
   return record
end

-- One JSON line, so the Python side never scrapes wrk's human-readable units.
function done(summary, latency, requests)
   local wraps, built = 0, 0
   for _, thread in ipairs(threads) do
      wraps = wraps + thread:get("wrapped")
      built = built + thread:get("count")
   end
   local errors = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %.0f, "duration_us": %.0f, "bytes": %.0f, '
         .. '"errors": {"connect": %.0f, "read": %.0f, "write": %.0f, "status": %.0f, '
         .. '"timeout": %.0f}, "latency_us": {"mean": %.1f, "max": %.0f, "p50": %.0f, '
         .. '"p90": %.0f, "p99": %.0f, "p999": %.0f}, "wrapped": %.0f, "built": %.0f}\n',
      summary.requests, summary.duration, summary.bytes,
      errors.connect, errors.read, errors.write, errors.status, errors.timeout,
      latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9), wraps, built
   ))
end
