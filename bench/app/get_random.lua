-- wrk script: GET /api/items/:id for uniformly random ids in 1..N.
--   wrk ... -s get_random.lua http://HOST:PORT -- [N=100000] [PREFIX=/api/items/]
-- Each wrk thread seeds its own generator (fixed seed + thread number), so runs repeat.
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
end

local max_id, prefix
function init(args)
  max_id = tonumber(args[1] or "100000")
  prefix = args[2] or "/api/items/"
  math.randomseed(20261201 + (thread_no or 0))
end

function request()
  return wrk.format("GET", prefix .. math.random(1, max_id))
end
