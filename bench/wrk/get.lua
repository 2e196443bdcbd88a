-- GET with one credential: wrk ... -s get.lua URL -- "<Authorization header value>"
function init(args)
  wrk.headers["Authorization"] = args[1]
end
