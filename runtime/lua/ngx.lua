-- The `ngx` API of OpenResty's lua-nginx-module, mapped onto the request
-- the running coroutine serves (docs/ngx.md lists what is and is not
-- provided). The global `ngx` is this table, loaded on its first use
-- (runtime/src/lua/lua_ngx.c); `require 'ngx'` returns it too.
--
-- Nothing is made per request until a handler touches ngx: the request is
-- found through lusty.current (the coroutine's context, listed once this
-- module is loaded), and the parts that change per request (ngx.ctx,
-- ngx.status, ngx.header, ngx.var) are read through metatables from that
-- context and its response.
local base = require 'lusty.ngx.base'
local util = require 'lusty.ngx.util'
local req = require 'lusty.ngx.req'
local native = require 'lusty.ngx.native'
local task = require 'lusty.task'

local type, tostring, tonumber, error, select, pairs, setmetatable, rawget =
  type, tostring, tonumber, error, select, pairs, setmetatable, rawget
local lower, gsub, find = string.lower, string.gsub, string.find
local need, state, text, EXIT = base.need, base.state, base.text, base.EXIT

local ngx = {}

-- ---- constants ----

ngx.OK, ngx.ERROR, ngx.AGAIN, ngx.DONE, ngx.DECLINED = 0, -1, -2, -4, -5

ngx.STDERR, ngx.EMERG, ngx.ALERT, ngx.CRIT, ngx.ERR = 0, 1, 2, 3, 4
ngx.WARN, ngx.NOTICE, ngx.INFO, ngx.DEBUG = 5, 6, 7, 8

local STATUSES = {
  HTTP_CONTINUE = 100, HTTP_SWITCHING_PROTOCOLS = 101,
  HTTP_OK = 200, HTTP_CREATED = 201, HTTP_ACCEPTED = 202, HTTP_NO_CONTENT = 204,
  HTTP_PARTIAL_CONTENT = 206,
  HTTP_SPECIAL_RESPONSE = 300, HTTP_MOVED_PERMANENTLY = 301, HTTP_MOVED_TEMPORARILY = 302,
  HTTP_SEE_OTHER = 303, HTTP_NOT_MODIFIED = 304, HTTP_TEMPORARY_REDIRECT = 307,
  HTTP_PERMANENT_REDIRECT = 308,
  HTTP_BAD_REQUEST = 400, HTTP_UNAUTHORIZED = 401, HTTP_PAYMENT_REQUIRED = 402,
  HTTP_FORBIDDEN = 403, HTTP_NOT_FOUND = 404, HTTP_NOT_ALLOWED = 405,
  HTTP_NOT_ACCEPTABLE = 406, HTTP_REQUEST_TIMEOUT = 408, HTTP_CONFLICT = 409, HTTP_GONE = 410,
  HTTP_UPGRADE_REQUIRED = 426, HTTP_TOO_MANY_REQUESTS = 429, HTTP_CLOSE = 444,
  HTTP_ILLEGAL = 451, HTTP_INTERNAL_SERVER_ERROR = 500, HTTP_METHOD_NOT_IMPLEMENTED = 501,
  HTTP_BAD_GATEWAY = 502, HTTP_SERVICE_UNAVAILABLE = 503, HTTP_GATEWAY_TIMEOUT = 504,
  HTTP_VERSION_NOT_SUPPORTED = 505, HTTP_INSUFFICIENT_STORAGE = 507,
}
for k, v in pairs(STATUSES) do ngx[k] = v end
for name, code in pairs(req.METHODS) do ngx['HTTP_' .. name] = code end

ngx.null = base.null

-- ---- logging ----

-- ngx.log(level, ...): the arguments as print() would show them, joined
-- without separators, on the server's log with the caller's file:line.
function ngx.log(level, ...)
  if type(level) ~= 'number' or level < 0 or level > 8 or level % 1 ~= 0 then
    error('bad argument #1 to \'log\' (bad log level)', 2)
  end
  local n = select('#', ...)
  local parts = {}
  for i = 1, n do
    local v = select(i, ...)
    if v == base.null then
      parts[i] = 'null'
    elseif type(v) == 'table' and getmetatable(v) and getmetatable(v).__tostring then
      parts[i] = tostring(v)
    elseif type(v) == 'table' then
      error(('bad argument #%d to \'log\' (table value)'):format(i + 1), 2)
    else
      parts[i] = tostring(v)
    end
  end
  native.log(level, base.where(2) .. table.concat(parts))
end

-- ---- output ----

-- The response a handler writes to: the context's, made by the server
-- (C functions) or by ngx.location.capture (Lua ones).
local function response(what)
  local ctx = need(what, 3)
  return ctx, base.response(ctx)
end

function ngx.print(...)
  local _, res = response('ngx.print')
  res.send(text('print', select('#', ...), ...), false)
  return 1
end

function ngx.say(...)
  local _, res = response('ngx.say')
  res.send(text('say', select('#', ...), ...) .. '\n', false)
  return 1
end

-- Sends the status, headers and what was printed so far, for `name`.
local function sendHead(name)
  local ctx, res = response(name)
  state(ctx).headersSent = true
  res.flush()
  return 1
end

function ngx.flush() return sendHead('ngx.flush') end

-- Sends the status and headers now (with what was printed so far: the
-- server writes them together).
function ngx.send_headers() return sendHead('ngx.send_headers') end

-- The response is complete: later output is dropped (the handler itself
-- goes on running, as in OpenResty).
function ngx.eof()
  local ctx, res = response('ngx.eof')
  state(ctx).headersSent = true
  res['end']()
  return 1
end

-- ngx.exit(status): ends the request. 0 (ngx.OK) or 200 send what was
-- printed so far (an empty body when nothing was); another status with
-- nothing sent gets that status and the server's page for it. Handlers,
-- publishers and context functions still to come do not run.
function ngx.exit(status)
  status = tonumber(status)
  if not status then error('bad argument #1 to \'exit\' (number expected)', 2) end
  local ctx, res = response('ngx.exit')
  local st = state(ctx)
  if status >= 200 and not st.headersSent then res.status = status end
  if status == 0 or status == 200 or rawget(res, 'sent') then res['end']() end
  st.exited = true
  error(EXIT, 0)
end

function ngx.redirect(uri, status)
  status = status or 302
  if status ~= 301 and status ~= 302 and status ~= 303 and status ~= 307 and status ~= 308 then
    error(('only ngx.HTTP_MOVED_TEMPORARILY, ngx.HTTP_MOVED_PERMANENTLY, ngx.HTTP_PERMANENT_'
      .. 'REDIRECT, ngx.HTTP_SEE_OTHER, and ngx.HTTP_TEMPORARY_REDIRECT are allowed (got %s)')
      :format(tostring(status)), 2)
  end
  local _, res = response('ngx.redirect')
  ngx.header.location = tostring(uri)
  return ngx.exit(status)
end

-- ---- ngx.header: the response's headers ----

-- "content_type" -> "content-type" (OpenResty turns underscores into
-- hyphens); names compare without case.
local function headerName(k)
  return (gsub(tostring(k), '_', '-'))
end

-- The key of `name` in `headers`, whatever its case, or nil.
local function findHeader(headers, name)
  if headers[name] ~= nil then return name end
  local l = lower(name)
  for k in pairs(headers) do
    if type(k) == 'string' and lower(k) == l then return k end
  end
end

-- The response's header table. Code written for OpenResty may have put
-- ngx.header itself there (response.headers = ngx.header): it is replaced
-- by a plain table, which the server can read.
local function headersOf(res)
  local headers = res.headers
  if headers == ngx.header or type(headers) ~= 'table' then
    headers = {}
    res.headers = headers
  end
  return headers
end

ngx.header = setmetatable({}, {
  __index = function(_, k)
    local _, res = response('ngx.header')
    local headers = headersOf(res)
    local key = findHeader(headers, headerName(k))
    return key and headers[key]
  end,
  __newindex = function(_, k, v)
    local ctx, res = response('ngx.header')
    if state(ctx).headersSent then
      ngx.log(ngx.ERR, 'attempt to set ngx.header.', tostring(k),
        ' after sending out response headers')
      return
    end
    local headers, name = headersOf(res), headerName(k)
    local key = findHeader(headers, name)
    if key then headers[key] = nil end
    if type(v) == 'table' then
      local copy = {}
      for i = 1, #v do copy[i] = tostring(v[i]) end
      v = #copy > 0 and copy or nil
    elseif v ~= nil then
      v = tostring(v)
    end
    headers[name] = v
  end,
})

-- ---- the per-request fields: ngx.ctx, ngx.status ----

local dynamic = {}

function dynamic.ctx()
  local ctx = need('ngx.ctx', 3)
  local st = state(ctx)
  local t = st.ctx
  if not t then
    t = {}
    st.ctx = t
  end
  return t
end

function dynamic.headers_sent()
  return state(need('ngx.headers_sent', 3)).headersSent == true
end

function dynamic.status()
  local _, res = response('ngx.status')
  return tonumber(res.status) or 200
end

local setters = {}

function setters.ctx(v)
  if type(v) ~= 'table' then error('ngx.ctx must be a table', 3) end
  state(need('ngx.ctx', 3)).ctx = v
end

function setters.status(v)
  local ctx, res = response('ngx.status')
  if state(ctx).headersSent then
    ngx.log(ngx.ERR, 'attempt to set ngx.status after sending out response headers')
    return
  end
  local n = tonumber(v)
  if not n then error('ngx.status must be a number', 3) end
  res.status = n
end

-- ---- the rest ----

ngx.req = req.req
ngx.var = req.var
ngx.arg = base.strict({}, 'ngx.arg')

-- Always the content phase inside a request, as for content_by_lua code;
-- 'timer' elsewhere.
function ngx.get_phase() return base.context() and 'content' or 'timer' end

for k, v in pairs(util) do ngx[k] = v end

ngx.sleep = function(seconds)
  local n = tonumber(seconds)
  if not n or n < 0 then error('bad argument #1 to \'sleep\' (a non-negative number expected)', 2) end
  return task.sleep(n)
end

-- ngx.timer.at(delay, fn, ...): fn(premature, ...) after `delay` seconds,
-- outside any request. `premature` is always false: the timers of a host
-- that ends are dropped, not run early.
local function timerAt(delay, fn, ...)
  if type(fn) ~= 'function' then
    error('bad argument #2 to \'at\' (function expected)', 2)
  end
  return task.timer(tonumber(delay) or 0, fn, false, ...)
end

local function timerEvery(delay, fn, ...)
  if type(fn) ~= 'function' then
    error('bad argument #2 to \'every\' (function expected)', 2)
  end
  delay = tonumber(delay) or 0
  if delay <= 0 then return nil, 'bad delay' end
  local n, args = select('#', ...), { ... }
  local function again()
    local ok, err = task.timer(delay, again)
    if not ok then return end
    fn(false, unpack(args, 1, n))
  end
  return task.timer(delay, again)
end

ngx.timer = base.strict({ at = timerAt, every = timerEvery }, 'ngx.timer')

ngx.location = base.strict({
  capture = function(...) return require('lusty.ngx.location').capture(...) end,
  capture_multi = function(...) return require('lusty.ngx.location').capture_multi(...) end,
}, 'ngx.location')

ngx.config = base.strict({
  subsystem = 'http',
  debug = false,
  is_console = false,
  prefix = function() return (require('lusty.native').root() or '.') .. '/' end,
}, 'ngx.config')

ngx.worker = base.strict({
  exiting = function() return false end,
  -- The server's process id (every worker thread shares it).
  pid = function()
    local ffi = require 'ffi'
    if not pcall(function() return ffi.C.getpid end) then ffi.cdef 'int getpid(void);' end
    return tonumber(ffi.C.getpid())
  end,
}, 'ngx.worker')

-- Not provided: these raise an error naming what was asked for, on any
-- field (ngx.socket.tcp, ngx.re.match ...), rather than reading nil.
ngx.shared = require 'lusty.ngx.shared'

for _, name in ipairs({ 'socket', 're', 'thread', 'semaphore', 'pipe', 'ssl',
                        'balancer', 'process', 'resp', 'ocsp', 'errlog' }) do
  ngx[name] = base.strict({}, 'ngx.' .. name)
end

-- From now on the host lists its requests (see lusty.current).
base.activate()

-- The global stand-in (lua_ngx.c) gives way to this table.
local global = rawget(_G, 'ngx')
local globalMt = type(global) == 'table' and getmetatable(global)
if type(globalMt) == 'table' and rawget(globalMt, '__lusty_standin') then rawset(_G, 'ngx', ngx) end

return setmetatable(ngx, {
  __index = function(_, k)
    local get = dynamic[k]
    if get then return get() end
    base.missing('ngx.' .. tostring(k), 2)
  end,
  __newindex = function(t, k, v)
    local set = setters[k]
    if set then return set(v) end
    -- Code may keep its own fields on ngx, as on any table.
    rawset(t, k, v)
  end,
})
