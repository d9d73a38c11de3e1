-- wrk script: POST /v1/messages, one message per request, a different recipient each time.
-- The API key comes from the environment (SMSGATE_KEY).
local key = os.getenv("SMSGATE_KEY")
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"to":"+4915112%06d","text":"meter 17 reading %d kWh"}', n % 1000000, n)
  return wrk.format("POST", "/v1/messages",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end
