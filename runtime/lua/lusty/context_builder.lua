-- What each request's task runs on the server (internal: the runtime's
-- app_request.c starts it): makes the request context of contract section 4,
-- runs the app's pipeline on it, and returns the context and the response
-- for the runtime to write.
--
-- C gathers the values (decoded path, host, port, url, the header, query,
-- params and suffix tables) and this function makes the fixed tables. Their
-- constructors have constant keys, so LuaJIT copies each from a template,
-- where setting the same fields one C API call at a time (each interning
-- its key string) cost a quarter of a small JSON request.
--
--   local serve = require('lusty.context_builder')(mt, bind, peer)
--   local context, response = serve(app, box, send, flush, finish, method,
--     uri, host, port, url, queryString, query, headers, body, params, suffix,
--     scheme, remoteAddr)
--
-- `send`, `flush` and `finish` are the request's own response functions;
-- bind(box, response) tells them which table is the response. The pipeline
-- may wait (lusty.sleep, the store): this runs on the request's coroutine.
local setmetatable = setmetatable
local running = coroutine.running
-- The coroutine -> context and response lists the ngx API reads
-- (lusty.current), kept only once the host has loaded ngx
-- (current.active): until then a request pays one field read.
local current = require 'lusty.current'
local requests, responses = current.requests, current.responses

return function(mt, bind, peer)
  -- peer(send, response): the client's address, for ngx.var.remote_addr.
  current.peer = peer
  local function serve(app, box, send, flush, finish, method, uri, host, port, url, queryString,
                       query, headers, body, params, suffix, scheme, remoteAddr)
    -- `sent` has its slot from the start: the first send sets it without
    -- growing the table.
    local response = { status = 200, headers = {}, send = send, flush = flush, ['end'] = finish,
                       sent = false }
    local context = {
      request = {
        method = method, uri = uri, scheme = scheme, host = host, port = port, url = url,
        queryString = queryString, query = query, headers = headers, body = body, params = params,
        remoteAddr = remoteAddr,
      },
      response = response,
      input = {},
      output = {},
      suffix = suffix,
    }
    setmetatable(context, mt)
    bind(box, response)
    if current.active then
      local co = running()
      if co then requests[co], responses[co] = context, response end
    end
    app.request(app, context)
    -- Also when ngx was first loaded during this request (it then listed
    -- the request itself, see lusty.ngx.base).
    if current.active then
      local co = running()
      if co then requests[co], responses[co] = nil, nil end
    end
    return context, response
  end
  -- ngx finds the request in flight from this function's frame when it is
  -- loaded during one.
  current.serve = serve
  return serve
end
