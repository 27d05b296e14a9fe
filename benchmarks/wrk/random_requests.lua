-- wrk script for benchmarks/http_wrk.py: every request is drawn at random from a list file.
--
--   wrk -t1 -c4 -d15s --latency -s benchmarks/wrk/random_requests.lua http://127.0.0.1:8000 \
--       -- /tmp/requests.tsv
--
-- The list file has one request per line: METHOD <tab> PATH [<tab> BODY]. A line with a body
-- is sent with "Content-Type: application/json" (wrk adds Content-Length). Each thread builds
-- every request once in init(), so request() only picks one (no formatting on the hot path),
-- and its random generator is seeded from its thread number (runs repeat the same sequence).
-- done() prints one line "wrk-json {...}" with the exact percentiles (microseconds), the
-- request count and the error counts, next to wrk's own report.

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
end

local requests = {}

function init(args)
  local path = args[1]
  if path == nil then
    error("usage: wrk ... -s random_requests.lua URL -- REQUESTS_FILE")
  end
  local file = assert(io.open(path, "r"))
  for line in file:lines() do
    local method, rest = line:match("^(%u+)\t(.*)$")
    if method ~= nil then
      local target, body = rest:match("^([^\t]*)\t(.*)$")
      if target == nil then
        target, body = rest, nil
      end
      if body == "" then
        body = nil
      end
      local headers = {}
      if body ~= nil then
        headers["Content-Type"] = "application/json"
      end
      table.insert(requests, wrk.format(method, target, headers, body))
    end
  end
  file:close()
  if #requests == 0 then
    error("no requests in " .. path)
  end
  math.randomseed(7 + (thread_number or 0))
end

function request()
  return requests[math.random(#requests)]
end

function done(summary, latency, _requests)
  local e = summary.errors
  io.write(string.format(
    'wrk-json {"requests":%d,"duration_us":%d,"p50_us":%d,"p75_us":%d,"p90_us":%d,'
      .. '"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,"connect_errors":%d,'
      .. '"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
