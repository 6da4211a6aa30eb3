-- wrk script: the URL wrk was given, but each connection waits DELAY_MS after every
-- response before sending its next request, so the load is paced (connections / DELAY_MS
-- requests per ms at most) instead of saturating the server: the mixed run measures the
-- latency of a server that has spare time, not its queueing at full load. wrk starts a
-- request's clock when it writes it, so the pause is not counted in the latency.
--   wrk ... -s paced.lua http://HOST:PORT/static4k.bin -- [DELAY_MS=1]
local delay_ms
function init(args)
  delay_ms = tonumber(args[1] or "1")
end

function delay()
  return delay_ms
end
