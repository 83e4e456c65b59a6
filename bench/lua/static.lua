-- The same request every time (its URL is wrk's): `wrk ... -s static.lua URL -- METHOD AUTH BODY`
-- AUTH is a whole Authorization value or "-" for none; BODY is a JSON body or "-" for none.
local summary = require("summary")
setup, response, done = summary.setup, summary.response, summary.done

function init(args)
  wrk.method = args[1] or "GET"
  if args[2] and args[2] ~= "-" then wrk.headers["Authorization"] = args[2] end
  if args[3] and args[3] ~= "-" then
    wrk.body = args[3]
    wrk.headers["Content-Type"] = "application/json"
  end
end
