-- What the parts of the `ngx` API share (internal; docs/ngx.md): finding
-- the request the running coroutine serves, its lazily made ngx state, the
-- "not provided" errors and turning output values into text.
local current = require 'lusty.current'
local cjson = require 'cjson'

local requests, responses = current.requests, current.responses
local running, type, tostring, error, setmetatable, rawget =
  coroutine.running, type, tostring, error, setmetatable, rawget
local concat = table.concat

local M = {}

M.EXIT = current.EXIT
M.null = cjson.null

-- The request context of the running coroutine, or nil.
function M.context()
  local co = running()
  return co and requests[co]
end

-- The request context, or an error naming `what` (raised at `level`).
function M.need(what, level)
  local co = running()
  local ctx = co and requests[co]
  if ctx then return ctx end
  error(what .. ' needs a request, and none is running here (timers and lusty exec have none)',
    (level or 2) + 1)
end

-- Per-request ngx state (ngx.ctx, ngx.var values set, headers sent ...),
-- made on first use and gone with the context.
local states = setmetatable({}, { __mode = 'k' })

function M.state(ctx)
  local st = states[ctx]
  if not st then
    st = { vars = {} }
    states[ctx] = st
  end
  return st
end

-- The response ngx writes to: the request's own (see lusty.current).
function M.response(ctx)
  local co = running()
  return co and responses[co] or rawget(ctx, 'response')
end

-- Runs fn(...) with `ctx` and `res` as the running coroutine's request and
-- response (a subrequest, or a spec's fake request), restoring the
-- previous ones.
function M.with(ctx, res, fn, ...)
  local co = running()
  if not co then error('a request can only run inside a task', 2) end
  local pctx, pres = requests[co], responses[co]
  requests[co], responses[co] = ctx, res
  local ok, err = pcall(fn, ...)
  requests[co], responses[co] = pctx, pres
  if not ok then error(err, 0) end
end

-- Turns the request lists on (ngx is loaded). When that happens during a
-- request, that request was not listed: it is found in the context
-- builder's frame on this coroutine's stack and listed now.
function M.activate()
  if current.active then return end
  current.active = true
  local co, serve = running(), current.serve
  if not co or not serve or requests[co] then return end
  for level = 2, 1000 do
    local info = debug.getinfo(level, 'f')
    if not info then return end
    if info.func == serve then
      local ctx, res
      for i = 1, 64 do
        local name, value = debug.getlocal(level, i)
        if name == nil then break end
        if name == 'context' then ctx = value elseif name == 'response' then res = value end
      end
      if ctx and res then requests[co], responses[co] = ctx, res end
      return
    end
  end
end

-- The error for a part of ngx that lusty server does not have.
function M.missing(name, level)
  error(name .. ' is not provided by lusty server (see docs/ngx.md)', (level or 1) + 1)
end

-- A table whose unknown fields raise M.missing instead of reading nil.
function M.strict(t, prefix)
  return setmetatable(t, {
    __index = function(_, k) M.missing(prefix .. '.' .. tostring(k), 2) end,
  })
end

-- Appends the text of an ngx.print/ngx.say argument to `out`: strings,
-- numbers, nil ("nil"), booleans, ngx.null ("null") and arrays of these,
-- nested (OpenResty's rules).
local function append(out, v, fname, argn)
  local t = type(v)
  if t == 'string' then
    out[#out + 1] = v
  elseif t == 'number' then
    out[#out + 1] = tostring(v)
  elseif t == 'nil' then
    out[#out + 1] = 'nil'
  elseif t == 'boolean' then
    out[#out + 1] = v and 'true' or 'false'
  elseif v == M.null then
    out[#out + 1] = 'null'
  elseif t == 'table' then
    local n = #v
    for k in pairs(v) do
      if type(k) ~= 'number' or k < 1 or k > n or k % 1 ~= 0 then
        error(('bad argument #%d to \'%s\' (non-array table found)'):format(argn, fname), 4)
      end
    end
    for i = 1, n do append(out, v[i], fname, argn) end
  else
    error(('bad argument #%d to \'%s\' (%s value)'):format(argn, fname, t), 4)
  end
end

function M.text(fname, n, ...)
  local out = {}
  for i = 1, n do append(out, (select(i, ...)), fname, i) end
  return concat(out)
end

-- "file:line: " of the function `level` levels up (as debug.getinfo
-- counts), the file relative to the project root; "" when unknown.
local where = require 'lusty.where'
function M.where(level)
  local w = where(level + 1)
  return w and (w .. ': ') or ''
end

-- Logs an entry of context.error ({ message, trace }) at ERROR.
function M.logError(what, e)
  local native = require 'lusty.ngx.native'
  local message = type(e) == 'table' and (e.message or tostring(e.error)) or tostring(e)
  local trace = type(e) == 'table' and e.trace
  native.log(4, what .. ': ' .. tostring(message) .. (trace and ('\n' .. trace) or ''))
end

return M
