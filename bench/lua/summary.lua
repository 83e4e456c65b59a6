-- Shared by the load scripts: counts answers by status in each wrk thread, and prints one
-- `BENCH_JSON {...}` line at the end that bench/run.sh records (latencies in microseconds).
--
-- Two views of latency. `latency_us` is wrk's own: before `done` runs, wrk "corrects" its
-- histogram for coordinated omission, adding for every answer slower than the mean interval
-- between requests (duration / (requests / connections)) the answers a client sending at that
-- fixed rate would have had queued behind it (one at each multiple of the interval below the
-- slow one). With one connection at full load, a single 250 ms stall in a 10 ms service becomes
-- about 24 samples, enough to set the p99 of a 2 s run. `latency_raw_us` undoes that: the
-- response time of each request as it was measured, one sample per answer (checked: the
-- samples add up to the answers). `hist_raw` is that distribution in 0.1 ms buckets,
-- [bucket, count] pairs, so that runs can be pooled. BENCH_CONNS (set by bench/lib/common.sh)
-- gives the number of connections, which wrk does not hand to the script.
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
  local raw = M.uncorrected(summary, latency)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"statuses":{%s},'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d},'
      .. '"latency_raw_us":{"count":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d},"hist_raw":[%s],"exhausted":%s}\n',
    summary.requests, summary.duration, summary.bytes, table.concat(parts, ","),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    raw.count, raw.pct(50), raw.pct(90), raw.pct(99), raw.max, raw.hist,
    tostring(M.exhausted_flag(threads))))
end

-- The measured distribution behind wrk's corrected one. wrk adds, for each sample at n >= 2e
-- (e the interval), copies at n - e, n - 2e, ... while above e; a bucket at v > e therefore
-- holds its own samples plus one copy of every sample at v + k e, so going down from the
-- slowest, own(v) = held(v) - sum over k >= 1 of own(v + k e).
function M.uncorrected(summary, latency)
  local held, values = {}, {}
  for i = 1, #latency do
    local v, c = latency(i)
    held[v] = c
    table.insert(values, v)
  end
  table.sort(values)
  local conns = tonumber(os.getenv("BENCH_CONNS") or "") or 1
  local per = math.floor(summary.requests / conns)
  local e = per > 0 and math.floor(summary.duration / per) or 0
  local own, count, top = {}, 0, values[#values] or 0
  for i = #values, 1, -1 do
    local v = values[i]
    local c = held[v]
    if e > 0 and v > e then
      local u = v + e
      while u <= top do
        c = c - (own[u] or 0)
        u = u + e
      end
    end
    own[v] = c
    count = count + c
  end
  local buckets, order = {}, {}
  for _, v in ipairs(values) do
    local b = math.floor(v / 100)
    if own[v] > 0 then
      if not buckets[b] then table.insert(order, b) end
      buckets[b] = (buckets[b] or 0) + own[v]
    end
  end
  local pairs_ = {}
  for _, b in ipairs(order) do table.insert(pairs_, string.format("[%d,%d]", b, buckets[b])) end
  local function pct(p)
    local want, seen = math.ceil(count * p / 100), 0
    for _, v in ipairs(values) do
      seen = seen + own[v]
      if seen >= want and seen > 0 then return v end
    end
    return 0
  end
  return { count = count, max = top, pct = pct, hist = table.concat(pairs_, ",") }
end

function M.exhausted_flag(ts)
  for _, t in ipairs(ts) do
    if t:get("exhausted") then return true end
  end
  return false
end

return M
