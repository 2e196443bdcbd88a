-- POST the same credentials: wrk ... -s login.lua URL -- <email> <password>
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"email":"' .. args[1] .. '","password":"' .. args[2] .. '"}'
end
