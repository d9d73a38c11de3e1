-- wrk script: POST /v1/messages, one message per request, a different recipient each time.
-- The API key comes from the environment (SMSGATE_KEY). Prints an ACCEPTED line at the end
-- (2xx answers) for the scripts that parse it.
local key = os.getenv("SMSGATE_KEY")
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"to":"+4915112%06d","text":"meter 17 reading %d kWh"}', n % 1000000, n)
  return wrk.format("POST", "/v1/messages",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  local failed = e.status + e.connect + e.read + e.write + e.timeout
  io.write(string.format("ACCEPTED %d FAILED %d P50_MS %.2f P99_MS %.2f\n",
    summary.requests - failed, failed, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
