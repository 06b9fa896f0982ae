-- POST the file named by $WRK_BODY to every request (Content-Type from $WRK_CONTENT_TYPE);
-- print one JSON line with the numbers the runner needs.
local path = os.getenv("WRK_BODY")
local file = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = os.getenv("WRK_CONTENT_TYPE") or "application/json"
-- extra headers: $WRK_HEADERS = "Name: value;Other: value"
for pair in string.gmatch(os.getenv("WRK_HEADERS") or "", "[^;]+") do
   local name, value = string.match(pair, "^%s*(.-)%s*:%s*(.-)%s*$")
   if name then wrk.headers[name] = value end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
      '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
