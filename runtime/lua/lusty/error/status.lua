-- lusty.error.status (contract section 8; docs/builtins.md): answers a
-- request that ended in an error status with the app's own error route.
--
--   ['error'] = {
--     ['lusty.error.status'] = {
--       prefix = {},                                   -- channels published first
--       status = { [404] = { 'request:404' },          -- status -> channels
--                  [500] = { 'request:500' } },        -- 500 also serves 501..599
--       suffix = { 'render', 'output' },               -- channels published last
--     },
--   },
--
-- The predicate first sets response.status when context.error is set (a
-- handler raised): to the `status` of the first error that carries one
-- (an error object such as the store's, with status 400 or 503), else 500.
-- Then it lets the handler run when the status has an entry
-- in `status`, or its hundred has one (503 -> 500). The handler publishes
-- the prefix, status and suffix channels in turn, each exactly as written
-- (not extended by the request path) with the request context, then sets
-- context.output = nil so that later output publishers send nothing more.
--
-- Error routing: while it publishes channel C, context.channel is C as an
-- array (restored afterwards). lusty.router uses it instead of the URL, so
-- publishing request:404 runs the route whose pattern is `404`, and the
-- router leaves the status alone (a 500 stays a 500).
local host = require 'lusty.host'

local type, tostring, tonumber, floor, error, xpcall, rawget =
  type, tostring, tonumber, math.floor, error, xpcall, rawget
local msgh, rethrow = host.msgh, host.rethrow

-- A channel as an array of names.
local function parts(ch)
  if type(ch) == 'table' then return ch end
  local out = {}
  for name in tostring(ch):gmatch('[^:]+') do out[#out + 1] = name end
  return out
end

-- A list of channels from the config: a list, one channel, or nothing.
local function channels(list, what)
  if list == nil then return {} end
  if type(list) == 'string' then return { parts(list) } end
  if type(list) ~= 'table' then
    error(('lusty.error.status: config.%s must be a list of channels'):format(what), 0)
  end
  local out = {}
  for i = 1, #list do out[i] = parts(list[i]) end
  return out
end

local prefix = channels(config.prefix, 'prefix')
local suffix = channels(config.suffix, 'suffix')
local byStatus = {}
if config.status ~= nil then
  if type(config.status) ~= 'table' then
    error('lusty.error.status: config.status must map status codes to lists of channels', 0)
  end
  for code, list in pairs(config.status) do
    local n = tonumber(code)
    if not n then
      error(("lusty.error.status: config.status key '%s' is not a status code"):format(tostring(code)), 0)
    end
    byStatus[n] = channels(list, 'status[' .. tostring(code) .. ']')
  end
end

-- The channels for a status: its own entry, else its hundred's.
local function lookup(status)
  status = tonumber(status)
  if not status then return nil end
  return byStatus[status] or byStatus[floor(status / 100) * 100]
end

-- The status of a request whose handlers raised: the first error object's
-- own `status` (400 to 599), else 500.
local function errorStatus(errors)
  if type(errors) == 'table' then
    for i = 1, #errors do
      local e = type(errors[i]) == 'table' and errors[i].error
      local status = type(e) == 'table' and tonumber(rawget(e, 'status'))
      if status and status >= 400 and status <= 599 and status % 1 == 0 then return status end
    end
  end
  return 500
end

local function predicate(context)
  local response = context.response
  if type(response) ~= 'table' then return false end
  local errors = rawget(context, 'error')
  if errors ~= nil and errors ~= false then response.status = errorStatus(errors) end
  return lookup(response.status) ~= nil
end

-- Publishes each channel of `list` with context.channel set to it.
local function publishAll(event, list, context)
  for i = 1, #list do
    local ch = list[i]
    local previous = rawget(context, 'channel')
    context.channel = ch
    -- host.msgh notes where an error was raised; host.rethrow keeps that
    -- traceback for the request's report.
    local ok, err = xpcall(event.publish, msgh, event, ch, context)
    context.channel = previous
    if not ok then rethrow(err) end
  end
end

local function handler(context)
  local event = context.lusty.event
  local statusChannels = lookup(context.response.status) or {}
  publishAll(event, prefix, context)
  publishAll(event, statusChannels, context)
  publishAll(event, suffix, context)
  context.output = nil
end

return {
  handler = handler,
  options = { predicate = predicate },
}
