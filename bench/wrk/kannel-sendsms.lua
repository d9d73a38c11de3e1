-- wrk script: Kannel's GET /cgi-bin/sendsms, one message per request, a different recipient
-- each time, asking for one delivery report callback per message (dlr-mask=3: delivered or
-- undelivered) to DLR_URL. User and password come from KANNEL_USER / KANNEL_PASS.
local user = os.getenv("KANNEL_USER") or "bench"
local pass = os.getenv("KANNEL_PASS") or "bench"
local function escape(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
local dlr = escape(os.getenv("DLR_URL") or "http://127.0.0.1:8099/dlr?s=%d")
local n = 0
request = function()
  n = n + 1
  local path = string.format(
    "/cgi-bin/sendsms?username=%s&password=%s&to=%%2B4915112%06d&text=meter+17+reading+%d+kWh&dlr-mask=3&dlr-url=%s",
    user, pass, n % 1000000, n, dlr)
  return wrk.format("GET", path)
end
done = function(summary, latency, requests)
  local e = summary.errors
  local failed = e.status + e.connect + e.read + e.write + e.timeout
  io.write(string.format("ACCEPTED %d FAILED %d P50_MS %.2f P99_MS %.2f\n",
    summary.requests - failed, failed, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
