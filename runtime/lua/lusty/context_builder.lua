-- Makes the request context of contract section 4 for the server
-- (internal: runtime/src/app_context.c calls it once per request).
--
-- C gathers the values (decoded path, host, port, url, the header, query,
-- params and suffix tables) and this function makes the fixed tables. Their
-- constructors have constant keys, so LuaJIT copies each from a template,
-- where setting the same fields one C API call at a time (each interning
-- its key string) cost a quarter of a small JSON request.
--
--   local build = require('lusty.context_builder')(mt, send, flush, finish)
--   local context, response = build(method, uri, host, port, url,
--     queryString, query, headers, body, params, suffix)
local setmetatable = setmetatable

return function(mt, send, flush, finish)
  return function(method, uri, host, port, url, queryString, query, headers, body, params, suffix)
    local response = { status = 200, headers = {}, ['end'] = finish }
    -- response.sent tells the output modules that a handler already
    -- answered, so they add no second body (docs/builtins.md).
    response.send = function(body)
      response.sent = true
      return send(body)
    end
    response.flush = function(body)
      response.sent = true
      return flush(body)
    end
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
    return setmetatable(context, mt), response
  end
end
