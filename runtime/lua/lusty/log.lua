-- lusty.log (contract section 8; docs/builtins.md): a context module that
-- adds context.log(message, level).
--
--   context = { ['lusty.log'] = { level = 'info' } }
--
-- Levels, lowest first: debug, info, warning (alias warn), error; a call
-- without a level logs at info. A call below config.level (default info)
-- does nothing; otherwise it publishes on log:<level> the event
-- { context = <the request context>, message = message, level = level }
-- (lusty.log.console is a subscriber that prints it). An unknown level is
-- an error. The global context gets a log function too (its events carry
-- the global context); each request context gets its own at the start of
-- the request.
local type, tostring, error, setmetatable = type, tostring, error, setmetatable

local LEVELS = { debug = 1, info = 2, warning = 3, error = 4 }
local ALIASES = { warn = 'warning', ['err'] = 'error' }

local function rank(level)
  local r = LEVELS[level]
  if r then return r, level end
  local alias = ALIASES[level]
  if alias then return LEVELS[alias], alias end
  return nil
end

local minimum = rank(config.level or 'info')
if not minimum then
  error(("lusty.log: unknown level '%s' in config (debug, info, warning or error)")
    :format(tostring(config.level)), 0)
end

local CHANNELS = {}
for name in pairs(LEVELS) do CHANNELS[name] = { 'log', name } end

local global = context

-- The log "function" whose events carry `ctx`: a callable table
-- { ctx } rather than a closure, because making a closure per request
-- (bytecode FNEW) is something LuaJIT's compiler does not handle, and it
-- would keep every request's pipeline in the interpreter. It is called
-- like a function: context.log(message, level).
local Logger = {}
Logger.__index = Logger

function Logger.__call(self, message, level)
  local r, name = rank(level == nil and 'info' or level)
  if not r then
    error(("unknown log level '%s' (debug, info, warning or error)"):format(tostring(level)), 2)
  end
  if r < minimum then return end
  global.lusty.event:publish(CHANNELS[name], { context = self[1], message = message, level = name })
end

local function logger(ctx)
  return setmetatable({ ctx }, Logger)
end

global.log = logger(global)

return function(requestContext)
  requestContext.log = logger(requestContext)
end
