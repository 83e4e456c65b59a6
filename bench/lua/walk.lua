-- Walks a list of tokens, one per request:
--   wrk ... -s walk.lua URL -- METHOD PATH_PREFIX FILE START COUNT AUTH MODE [SUFFIX]
-- FILE has `TOKEN INDEX_KEY` lines; lines START+1 .. START+COUNT are used. The path is
-- PATH_PREFIX..TOKEN, followed by `?idx=INDEX_KEY` if MODE ends in "+idx", or else by SUFFIX
-- (a query string such as `?project=P`) when it is given and not "-". MODE "cycle" starts
-- again at the first token (reads); MODE "once" uses each token a single time (deletes) and
-- stops the thread when none is left. Meant for one wrk thread (-t1).
local summary = require("summary")
setup, response, done = summary.setup, summary.response, summary.done

local method, prefix, auth, mode, suffix
local items = {}
local next_item = 0
exhausted = false

function init(args)
  method, prefix = args[1], args[2]
  local file, start, count = args[3], tonumber(args[4]), tonumber(args[5])
  auth, mode = args[6], args[7] or "cycle"
  suffix = args[8]
  if suffix == "-" then suffix = nil end
  local n = 0
  for line in io.lines(file) do
    n = n + 1
    if n > start and n <= start + count then
      local token, index = line:match("^(%S+)%s+(%S+)$")
      table.insert(items, { token, index })
    end
  end
  if #items == 0 then error("walk.lua: no tokens in " .. file) end
end

function request()
  next_item = next_item + 1
  if next_item > #items then
    if mode:sub(1, 4) == "once" then
      exhausted = true
      wrk.thread:stop()
      next_item = #items
    else
      next_item = 1
    end
  end
  local item = items[next_item]
  local path = prefix .. item[1]
  if mode:sub(-4) == "+idx" then
    path = path .. "?idx=" .. item[2]
  elseif suffix then
    path = path .. suffix
  end
  local headers = {}
  if auth ~= "-" then headers["Authorization"] = auth end
  return wrk.format(method, path, headers, nil)
end
