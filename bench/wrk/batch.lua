-- wrk script: POST /v1/messages/batch with BATCH (default 100) messages per request.
local key = os.getenv("SMSGATE_KEY")
local size = tonumber(os.getenv("BATCH") or "100")
local n = 0
request = function()
  local parts = {}
  for i = 1, size do
    n = n + 1
    parts[i] = string.format('{"to":"+4915112%06d","text":"meter 17 reading %d kWh"}', n % 1000000, n)
  end
  local body = '{"messages":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", "/v1/messages/batch",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end

-- Counts 4xx/5xx so a run with errors is not mistaken for throughput.
local errors = 0
response = function(status, headers, body)
  if status >= 400 then errors = errors + 1 end
end
