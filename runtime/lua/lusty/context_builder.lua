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
--   local serve = require('lusty.context_builder')(mt, bind)
--   local context, response = serve(app, box, send, flush, finish, method,
--     uri, host, port, url, queryString, query, headers, body, params, suffix)
--
-- `send`, `flush` and `finish` are the request's own response functions;
-- bind(box, response) tells them which table is the response. The pipeline
-- may wait (lusty.sleep, the store): this runs on the request's coroutine.
local setmetatable = setmetatable

return function(mt, bind)
  return function(app, box, send, flush, finish, method, uri, host, port, url, queryString,
                  query, headers, body, params, suffix)
    -- `sent` has its slot from the start: the first send sets it without
    -- growing the table.
    local response = { status = 200, headers = {}, send = send, flush = flush, ['end'] = finish,
                       sent = false }
    local context = {
      request = {
        method = method, uri = uri, scheme = 'http', host = host, port = port, url = url,
        queryString = queryString, query = query, headers = headers, body = body, params = params,
      },
      response = response,
      input = {},
      output = {},
      suffix = suffix,
    }
    setmetatable(context, mt)
    bind(box, response)
    app.request(app, context)
    return context, response
  end
end
