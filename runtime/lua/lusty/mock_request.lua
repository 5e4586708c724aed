-- A request through the app's pipeline without a socket, for `lusty
-- console` and `lusty test` (docs/dev-loop.md): the context is built as the
-- server builds it (contract section 4), the app's pipeline runs on it in
-- the caller's task (so handlers may wait), and what the handlers sent is
-- gathered into a result table.
--
--   local request = require 'lusty.mock_request'
--   local res = request(lusty, 'GET', '/users/1?full=1', {
--     headers = { accept = 'application/json' },   -- names any case
--     body = '...' or { name = 'x' },              -- a table is sent as JSON
--   })
--   res.status, res.headers['content-type'], res.body, res.json, res.errors
--
-- As on the server, a request nobody answered gets 500 when a handler
-- raised (res.errors holds the messages), else 404 when the status is 200
-- or 404; `res.context` is the request context after the pipeline.
local type, pairs, tostring, tonumber, concat, char =
  type, pairs, tostring, tonumber, table.concat, string.char

local function unescape(s, plus)
  if plus then s = s:gsub('+', ' ') end
  return (s:gsub('%%(%x%x)', function(h) return char(tonumber(h, 16)) end))
end

-- The decoded arguments of a query string or a form body.
local function decodeArgs(text)
  local out = {}
  for pair in text:gmatch('[^&]+') do
    local k, v = pair:match('^([^=]*)=?(.*)$')
    out[unescape(k, true)] = unescape(v, true)
  end
  return out
end

return function(app, method, target, opts)
  opts = opts or {}
  if type(app) ~= 'table' or type(app.request) ~= 'function' then
    error('request: no app loaded (run it inside a project)', 2)
  end
  method = tostring(method or 'GET'):upper()
  target = tostring(target or '/')
  if target:sub(1, 1) ~= '/' then target = '/' .. target end
  local path, queryString = target:match('^([^?]*)%??(.*)$')
  local headers = {}
  for k, v in pairs(opts.headers or {}) do headers[tostring(k):lower()] = tostring(v) end
  local body = opts.body
  if type(body) == 'table' then
    body = require('cjson').encode(body)
    headers['content-type'] = headers['content-type'] or 'application/json'
  end
  if body ~= nil then headers['content-length'] = tostring(#body) end
  headers.host = headers.host or 'localhost'
  local suffix = {}
  for part in path:gmatch('[^/]+') do suffix[#suffix + 1] = unescape(part) end
  local params = {}
  if body and (headers['content-type'] or ''):find('^application/x%-www%-form%-urlencoded') then
    params = decodeArgs(body)
  end

  local sent, ended = {}, false
  local response = { status = 200, headers = {} }
  response.send = function(b)
    if b ~= nil then sent[#sent + 1] = tostring(b) end
    return true
  end
  response.flush = response.send
  response['end'] = function() ended = true end
  local context = {
    request = {
      method = method, uri = unescape(path), scheme = 'http', host = 'localhost', port = 80,
      url = 'http://localhost' .. target, queryString = queryString,
      query = decodeArgs(queryString), headers = headers, body = body, params = params,
    },
    response = response,
    input = {},
    output = {},
    suffix = suffix,
  }
  app:request(context)

  -- The context is there to read, not shown when the console prints `res`.
  local res = setmetatable({ status = tonumber(response.status) or 200,
    headers = response.headers }, { __index = { context = context } })
  local errors = rawget(context, 'error')
  if type(errors) == 'table' and #errors > 0 then
    res.errors = {}
    for i = 1, #errors do res.errors[i] = tostring(errors[i].message) end
  end
  if #sent > 0 or ended then
    res.body = concat(sent)
  elseif res.errors then
    res.status, res.body = 500, concat(res.errors, '\n')
  elseif res.status == 200 or res.status == 404 then
    res.status, res.body = 404, 'Not Found'
  else
    res.body = ''
  end
  local ctype = res.headers['content-type'] or res.headers['Content-Type']
  if type(ctype) == 'string' and ctype:find('json') and res.body ~= '' then
    local ok, value = pcall(require('cjson').decode, res.body)
    if ok then res.json = value end
  end
  return res
end
