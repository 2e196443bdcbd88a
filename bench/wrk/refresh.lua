-- Rotation chains: one connection per thread, each thread refreshing its own
-- token and using the refresh token of each answer for its next request.
-- wrk -tN -cN ... -s refresh.lua URL -- <refresh 1> ... <refresh N>
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("index", counter)
  table.insert(threads, thread)
end

function init(args)
  token = args[index]
  broken = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  return wrk.format(nil, nil, nil, '{"refresh":"' .. token .. '"}')
end

function response(status, headers, body)
  local next_token = status == 200 and body:match('"refresh"%s*:%s*"([^"]+)"')
  if next_token then
    token = next_token
  else
    broken = broken + 1
  end
end

function chain_failures()
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("broken") or 0)
  end
  return total
end
