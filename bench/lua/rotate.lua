-- The same request with a different Authorization each time, in turn (one project after
-- another): `wrk ... -s rotate.lua URL -- METHOD BODY AUTH...`. BODY is a JSON body or "-".
-- Meant for one wrk thread (-t1).
local summary = require("summary")
setup, response, done = summary.setup, summary.response, summary.done

local method, body
local auths = {}
local next_auth = 0

function init(args)
  method, body = args[1], args[2]
  if body == "-" then body = nil end
  for i = 3, #args do table.insert(auths, args[i]) end
  if #auths == 0 then error("rotate.lua: no Authorization values") end
end

function request()
  next_auth = next_auth % #auths + 1
  local headers = { ["Authorization"] = auths[next_auth] }
  if body then headers["Content-Type"] = "application/json" end
  return wrk.format(method, nil, headers, body)
end
