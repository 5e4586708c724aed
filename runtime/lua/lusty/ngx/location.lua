-- ngx.location.capture(uri, options) and capture_multi (docs/ngx.md): a
-- subrequest through the app's own pipeline, on the calling request's
-- coroutine, answered into a buffer rather than to the client:
--
--   local res = ngx.location.capture('/users/1', { args = { full = 1 } })
--   -- res.status, res.header (a table), res.body, res.truncated (false)
--
-- The subrequest gets a context of its own (contract section 4) whose
-- response collects what is sent; ngx.* inside it works on the subrequest.
-- Options: method (ngx.HTTP_*), body, args (a string or a table), ctx
-- (the subrequest's ngx.ctx), share_all_vars / copy_all_vars (ngx.var
-- values set by the parent), always_forward_body.
local base = require 'lusty.ngx.base'
local util = require 'lusty.ngx.util'
local req = require 'lusty.ngx.req'

local type, tostring, error, pairs, setmetatable, rawget, getmetatable =
  type, tostring, error, pairs, setmetatable, rawget, getmetatable
local concat = table.concat

local M = {}

local NAMES = {}
for name, code in pairs(req.METHODS) do NAMES[code] = name end

-- A response like the server's (send, flush, end), collecting the body.
local function newResponse()
  local chunks, ended = {}, false
  local res = { status = 200, headers = {} }
  local function add(body)
    if ended then return end
    if body ~= nil then chunks[#chunks + 1] = base.text('send', 1, body) end
    res.sent = true
  end
  res.send = function(body, newline)
    add(body)
    if newline ~= false and not ended then chunks[#chunks + 1] = '\n' end
  end
  res.flush = function(body) add(body) end
  res['end'] = function() ended = true end
  return res, chunks
end

local function suffixOf(path)
  local suffix = {}
  for part in path:gmatch('[^/]+') do suffix[#suffix + 1] = util.unescape_uri(part) end
  return suffix
end

local function capture(uri, options)
  if type(uri) ~= 'string' or uri:sub(1, 1) ~= '/' then
    error('bad argument #1 to \'capture\' (an absolute path such as "/users" expected)', 3)
  end
  options = options or {}
  local parent = base.context()
  local app = parent and parent.lusty or rawget(_G, 'lusty')
  if type(app) ~= 'table' or type(app.request) ~= 'function' then
    error('ngx.location.capture: no app to send the subrequest to', 3)
  end
  local path, qs = uri:match('^([^?]*)%??(.*)$')
  local args = options.args
  if type(args) == 'table' then args = util.encode_args(args) end
  if args and args ~= '' then qs = qs ~= '' and (qs .. '&' .. args) or args end
  local pr = parent and parent.request or {}
  local headers = {}
  for k, v in pairs(pr.headers or {}) do headers[k] = v end
  local method = options.method and NAMES[options.method]
  if options.method and not method then
    error('ngx.location.capture: unsupported method ' .. tostring(options.method), 3)
  end
  method = method or 'GET'
  local body = options.body
  if body == nil and (options.always_forward_body or method == 'POST' or method == 'PUT') then
    body = pr.body
  end
  local decodedPath = util.unescape_uri((path:gsub('%+', '%%2B')))
  local host, port = pr.host or '127.0.0.1', pr.port or 80
  local response, chunks = newResponse()
  local context = {
    request = {
      method = method, uri = decodedPath, scheme = pr.scheme or 'http', host = host, port = port,
      url = 'http://' .. host .. (port ~= 80 and (':' .. port) or '') .. path,
      queryString = qs, query = util.decode_args(qs, 0), headers = headers, body = body,
      params = {},
    },
    response = response,
    input = {},
    output = {},
    suffix = suffixOf(path),
  }
  local ctype = headers['content-type']
  if body and type(ctype) == 'string' and ctype:lower():find('application/x-www-form-urlencoded', 1, true) then
    context.request.params = util.decode_args(body, 0)
  end
  if parent and getmetatable(parent) then setmetatable(context, getmetatable(parent)) end
  local st = base.state(context)
  st.internal = true
  -- The client's address and the like come from the main request.
  st.mainResponse = parent and (base.state(parent).mainResponse or base.response(parent))
  if type(options.ctx) == 'table' then st.ctx = options.ctx end
  if parent and (options.share_all_vars or options.copy_all_vars) then
    local pv = base.state(parent).vars
    st.vars = options.share_all_vars and pv or setmetatable({}, { __index = pv })
  end
  base.with(context, response, app.request, app, context)
  local status = tonumber(response.status) or 200
  local errors = rawget(context, 'error')
  if type(errors) == 'table' then
    -- Logged even when the subrequest answered: no error goes unseen.
    for i = 1, #errors do base.logError('subrequest ' .. uri, errors[i]) end
  end
  if type(errors) == 'table' and errors[1] and not response.sent then
    status = 500
  elseif not response.sent and status == 200 then
    status = 404
  end
  return { status = status, header = response.headers, body = concat(chunks), truncated = false }
end

function M.capture(uri, options)
  return capture(uri, options)
end

-- The requests one after the other (they share the coroutine); the
-- results in the same order.
function M.capture_multi(list)
  local out = {}
  for i = 1, #list do
    local item = list[i]
    out[i] = capture(item[1], item[2])
  end
  return unpack(out, 1, #list)
end

return M
