-- wrk script: POST /api/items with a small new item (application/json). Each request
-- creates a row; the body is the same every time (the server assigns the id).
--   wrk ... -s post_item.lua http://HOST:PORT -- [PATH=/api/items]
local req
function init(args)
  local body = '{"title":"bench item","category":"c-bench","price":9.99,' ..
               '"body":"posted by wrk from bench/app/post_item.lua"}'
  req = wrk.format("POST", args[1] or "/api/items",
                   {["Content-Type"] = "application/json"}, body)
end

function request()
  return req
end
