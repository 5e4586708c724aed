-- ngx.req and ngx.var over the current request's context.request
-- (docs/ngx.md). The request's body is always read already, so read_body
-- has nothing to do and get_body_file is always nil.
local base = require 'lusty.ngx.base'
local util = require 'lusty.ngx.util'

local type, tostring, tonumber, error, pairs, setmetatable, rawget =
  type, tostring, tonumber, error, pairs, setmetatable, rawget
local lower, gsub, sub = string.lower, string.gsub, string.sub
local need = base.need

local M = {}

M.METHODS = {
  GET = 2, HEAD = 4, POST = 8, PUT = 16, DELETE = 32, MKCOL = 64, COPY = 128, MOVE = 256,
  OPTIONS = 512, PROPFIND = 1024, PROPPATCH = 2048, LOCK = 4096, UNLOCK = 8192,
  PATCH = 16384, TRACE = 32768,
}
local NAMES = {}
for name, code in pairs(M.METHODS) do NAMES[code] = name end

local function request(what)
  local ctx = need(what, 3)
  local r = ctx.request
  if type(r) ~= 'table' then error(what .. ': the context has no request table', 3) end
  return r, ctx
end

-- A copy of `t` with at most `max` keys (100 by default, 0: all); the
-- second result is "truncated" when keys were left out.
local function limited(t, max)
  max = max or 100
  local out, n = {}, 0
  for k, v in pairs(t or {}) do
    if max > 0 and n >= max then return out, 'truncated' end
    n = n + 1
    out[k] = type(v) == 'table' and { unpack(v) } or v
  end
  return out
end

-- Header tables read "Content_Type" as "content-type", as OpenResty's do.
local HeaderLookup = {
  __index = function(t, k)
    if type(k) ~= 'string' then return nil end
    local name = lower((gsub(k, '_', '-')))
    if name ~= k then return rawget(t, name) end
  end,
}

local req = {}

function req.get_method() return request('ngx.req.get_method').method end

function req.set_method(code)
  local name = NAMES[code]
  if not name then error('bad argument #1 to \'set_method\' (unsupported HTTP method: '
    .. tostring(code) .. ')', 2) end
  request('ngx.req.set_method').method = name
end

function req.get_headers(max, raw)
  local r = request('ngx.req.get_headers')
  local out, truncated = limited(r.headers, max)
  if not raw then setmetatable(out, HeaderLookup) end
  return out, truncated
end

function req.set_header(name, value)
  if type(name) ~= 'string' then error('bad argument #1 to \'set_header\' (string expected)', 2) end
  local r = request('ngx.req.set_header')
  if type(r.headers) ~= 'table' then r.headers = {} end
  if type(value) == 'table' then
    local copy = {}
    for i = 1, #value do copy[i] = tostring(value[i]) end
    value = #copy > 0 and copy or nil
  elseif value ~= nil then
    value = tostring(value)
  end
  r.headers[lower(name)] = value
end

function req.clear_header(name) return req.set_header(name, nil) end

function req.get_uri_args(max)
  return limited(request('ngx.req.get_uri_args').query, max)
end

function req.set_uri_args(args)
  local r = request('ngx.req.set_uri_args')
  local qs = type(args) == 'table' and util.encode_args(args) or tostring(args or '')
  r.queryString = qs
  r.query = util.decode_args(qs, 0)
end

function req.get_post_args(max)
  local r = request('ngx.req.get_post_args')
  if r.body == nil then return {} end
  local params = r.params
  if type(params) ~= 'table' or next(params) == nil then
    local ctype = r.headers and r.headers['content-type']
    if type(ctype) == 'string' and lower(ctype):find('application/x-www-form-urlencoded', 1, true) then
      params = util.decode_args(r.body, 0)
    end
  end
  return limited(params, max)
end

function req.read_body() end
function req.discard_body() end
function req.get_body_file() return nil end
function req.get_body_data() return request('ngx.req.get_body_data').body end

function req.set_body_data(data)
  request('ngx.req.set_body_data').body = data ~= nil and tostring(data) or nil
end

function req.http_version() return 1.1 end
function req.is_internal() return base.state(need('ngx.req.is_internal', 2)).internal == true end
function req.get_uri() return request('ngx.req.get_uri').uri end

function req.set_uri(uri)
  if type(uri) ~= 'string' or uri == '' then
    error('bad argument #1 to \'set_uri\' (non-empty string expected)', 2)
  end
  request('ngx.req.set_uri').uri = uri
end

M.req = base.strict(req, 'ngx.req')

-- ---- ngx.var ----

local vars = {}

function vars.uri(r) return r.uri end
function vars.document_uri(r) return r.uri end
function vars.args(r)
  local qs = r.queryString
  if qs == nil or qs == '' then return nil end
  return qs
end
vars.query_string = vars.args
function vars.is_args(r) return vars.args(r) and '?' or '' end
function vars.request_uri(r)
  local path = gsub(r.uri or '/', "[^%w%-%._~!$&'()*+,/:;=@]",
    function(c) return ('%%%02X'):format(c:byte()) end)
  local qs = vars.args(r)
  return qs and (path .. '?' .. qs) or path
end
function vars.host(r) return r.host end
function vars.server_name(r) return r.host end
function vars.hostname() return os.getenv('HOSTNAME') end
function vars.server_port(r) return r.port and tostring(r.port) or nil end
function vars.scheme(r) return r.scheme or 'http' end
function vars.https(r) return r.scheme == 'https' and 'on' or '' end
function vars.request_method(r) return r.method end
function vars.server_protocol() return 'HTTP/1.1' end
function vars.request_body(r) return r.body end
function vars.content_type(r) return r.headers and r.headers['content-type'] end
function vars.content_length(r) return r.headers and r.headers['content-length'] end
-- The client's address: asked of the server through the request's own
-- send function (lusty.current.peer); a subrequest has its main
-- request's. nil outside the server.
function vars.remote_addr(_, ctx)
  local peer = require('lusty.current').peer
  local st = base.state(ctx)
  local res = st.mainResponse or base.response(ctx)
  return peer and res and peer(res.send, res) or nil
end

local function first(v)
  if type(v) == 'table' then return v[1] end
  return v
end

-- $http_NAME, $arg_NAME, $cookie_NAME.
local function prefixed(r, k)
  if sub(k, 1, 5) == 'http_' then
    local h = r.headers and r.headers[(gsub(lower(sub(k, 6)), '_', '-'))]
    if type(h) == 'table' then return table.concat(h, ', ') end
    return h
  elseif sub(k, 1, 4) == 'arg_' then
    local v = first(r.query and r.query[sub(k, 5)])
    if v == true then return '' end
    return v
  elseif sub(k, 1, 7) == 'cookie_' then
    local cookies = first(r.headers and r.headers.cookie)
    if type(cookies) ~= 'string' then return nil end
    local want = sub(k, 8)
    for name, value in cookies:gmatch('([^=;%s]+)=([^;]*)') do
      if name == want then return value end
    end
  end
end

M.var = setmetatable({}, {
  __index = function(_, k)
    local ctx = need('ngx.var', 2)
    local st = base.state(ctx)
    local set = st.vars[k]
    if set ~= nil then return set or nil end
    local r = ctx.request or {}
    local f = vars[k]
    if f then return f(r, ctx) end
    if type(k) == 'string' then return prefixed(r, k) end
  end,
  __newindex = function(_, k, v)
    local ctx = need('ngx.var', 2)
    if k == 'args' or k == 'query_string' then return req.set_uri_args(v or '') end
    if v ~= nil and type(v) ~= 'string' and type(v) ~= 'number' then
      error('ngx.var.' .. tostring(k) .. ' must be a string, a number or nil', 2)
    end
    base.state(ctx).vars[k] = v == nil and false or tostring(v)
  end,
})

return M
