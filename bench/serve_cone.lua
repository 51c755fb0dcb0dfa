-- wrk script for bench/serve.sh: GET /api/v1/cone on random cones.
--
-- Each wrk thread draws its own list of centres from math.random seeded
-- with BENCH_SEED and the thread number (uniform on the sphere, RA 0-360,
-- Dec within the catalog's footprint BENCH_DEC_MIN..BENCH_DEC_MAX, default
-- -24..89 like bench/cone.sh) and cycles through it, so a run is
-- repeatable. With BENCH_CENTRES_OUT set, thread N also writes its list to
-- BENCH_CENTRES_OUT.N ("ra dec" per line) for the q3c peer.
--
-- env: BENCH_TOKEN (bearer token, required), BENCH_TABLE (zcatalog),
--      BENCH_RADIUS (0.5 degree), BENCH_LIMIT (1000), BENCH_SEED (7),
--      BENCH_NCENTRES (2000 per thread), BENCH_DEC_MIN, BENCH_DEC_MAX,
--      BENCH_CENTRES_OUT, BENCH_LABEL (printed with the result line)
-- usage: wrk -t2 -c16 -d20s --latency -s bench/serve_cone.lua http://127.0.0.1:18080

local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end

local function env(name, default)
   local v = os.getenv(name)
   if v == nil or v == "" then return default end
   return v
end

function init(args)
   local token = env("BENCH_TOKEN", nil)
   if token == nil then
      io.stderr:write("serve_cone.lua: BENCH_TOKEN is not set\n")
      os.exit(2)
   end
   local table_name = env("BENCH_TABLE", "zcatalog")
   local radius = tonumber(env("BENCH_RADIUS", "0.5"))
   local limit = tonumber(env("BENCH_LIMIT", "1000"))
   local seed = tonumber(env("BENCH_SEED", "7"))
   local n = tonumber(env("BENCH_NCENTRES", "2000"))
   local smin = math.sin(math.rad(tonumber(env("BENCH_DEC_MIN", "-24"))))
   local smax = math.sin(math.rad(tonumber(env("BENCH_DEC_MAX", "89"))))
   local tid = id or 0
   math.randomseed(seed * 1000 + tid)
   local headers = { ["Authorization"] = "Bearer " .. token, ["Accept"] = "application/json" }
   local out = env("BENCH_CENTRES_OUT", nil)
   local f = nil
   if out ~= nil then f = io.open(out .. "." .. tid, "w") end
   requests_list = {}
   for i = 1, n do
      local ra = math.random() * 360.0
      local dec = math.deg(math.asin(smin + (smax - smin) * math.random()))
      if f then f:write(string.format("%.6f %.6f\n", ra, dec)) end
      local path = string.format("/api/v1/cone?table=%s&ra=%.6f&dec=%.6f&radius=%g&limit=%d",
                                 table_name, ra, dec, radius, limit)
      requests_list[i] = wrk.format("GET", path, headers)
   end
   if f then f:close() end
   next_index = 1
end

function request()
   local r = requests_list[next_index]
   next_index = next_index + 1
   if next_index > #requests_list then next_index = 1 end
   return r
end

function done(summary, latency, requests)
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      "wrk_result label=%s requests=%d seconds=%.2f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f http_errors=%d connect_err=%d read_err=%d write_err=%d timeouts=%d\n",
      env("BENCH_LABEL", "cone"), summary.requests, secs, summary.requests / secs,
      latency:percentile(50) / 1000.0, latency:percentile(90) / 1000.0,
      latency:percentile(99) / 1000.0, latency.max / 1000.0,
      e.status, e.connect, e.read, e.write, e.timeout))
end
