-- HTTP/1.1 pipelining for wrk: every write carries `depth` requests (default 16).
--   wrk -t1 -c256 -d10s --latency -s pipeline.lua http://127.0.0.1:PORT/plaintext -- 16
-- wrk parses the request string, sees `depth` requests, and waits for that many responses
-- before writing the next batch. It counts every response, so its requests/s is the
-- number of individual responses per second. wrk records one latency sample per batch:
-- from the batch write to the last of its `depth` responses.
local req

init = function(args)
  local depth = tonumber(args[1] or "16")
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil)
  end
  req = table.concat(r)
end

request = function()
  return req
end
