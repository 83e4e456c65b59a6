-- Shared by the load scripts: counts answers by status in each wrk thread, and prints one
-- `BENCH_JSON {...}` line at the end that bench/run.sh records (latencies in microseconds).
local M = {}

statuses = {}
threads = {}

function M.setup(thread)
  table.insert(threads, thread)
end

function M.response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function M.done(summary, latency, requests)
  local counts = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if type(s) == "table" then
      for code, n in pairs(s) do counts[code] = (counts[code] or 0) + n end
    end
  end
  local parts = {}
  for code, n in pairs(counts) do table.insert(parts, string.format('"%d":%d', code, n)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"statuses":{%s},'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d},"exhausted":%s}\n',
    summary.requests, summary.duration, summary.bytes, table.concat(parts, ","),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    tostring(M.exhausted_flag(threads))))
end

function M.exhausted_flag(ts)
  for _, t in ipairs(ts) do
    if t:get("exhausted") then return true end
  end
  return false
end

return M
