-- The app object (contract sections 4 and 5), embedded in the runtime.
--
--   local lusty = require 'lusty'()        -- a fresh app with its own bus
--   lusty:subscribe('request', 'requests.index', { some = 'config' })
--   lusty.publishers = { {'input'}, {'request'}, {'output'} }
--   local context = lusty:request({ suffix = { 'users', '1' } })
--
-- The host's global `lusty` is require 'lusty'(); options.event gives an app
-- an existing bus.
local Mediator = require 'mediator'
local split = require('mediator.names').split
local util = require 'lusty.util'
local host = require 'lusty.host'

local type, tostring, rawget, setmetatable, getmetatable, error =
  type, tostring, rawget, setmetatable, getmetatable, error
local xpcall = xpcall
local inline, msgh, hostTrace = util.inline, host.msgh, host.trace
-- ngx.exit() ends the pipeline by raising this (runtime/lua/ngx.lua).
local EXIT = require('lusty.current').EXIT

-- A channel as an array of names ("a:b" -> { "a", "b" }). Strings are
-- split once (mediator.names keeps them, bounded): a publisher's name is
-- published on at every request. The arrays are shared: copy them.
local function parts(channel)
  if type(channel) == 'table' then return channel end
  return split(tostring(channel))
end

-- The channel extended by the request's path segments, as a new array.
local function extended(channel, suffix)
  local from = parts(channel)
  local out, n = {}, #from
  for i = 1, n do out[i] = from[i] end
  for i = 1, #suffix do out[n + i] = suffix[i] end
  return out
end

local App = {}
App.__index = App

-- Waiting (runtime/src/lua/lua_task.c): lusty.sleep(seconds) suspends the
-- request (or timer) that calls it while the worker serves others;
-- lusty.timer(delay, fn, ...) runs fn(...) later, outside any request.
local task = require 'lusty.task'
App.sleep = task.sleep
App.timer = task.timer

-- Subscribes handler module `name` (loaded with `channel` and `config`
-- injected) on `channel`; returns the subscriber.
-- inline(name, env), where a module not found also names who asked for
-- it (`asker`: "the subscribers of 'request:users'"). Other errors go on
-- with the traceback of where they were raised.
local function load(name, env, asker)
  local ok, result = xpcall(inline, msgh, name, env)
  if ok then return result end
  if type(result) == 'string' and result:find("module '" .. tostring(name) .. "' not found;", 1, true) == 1 then
    error(result .. '\n\tasked by ' .. asker, 0)
  end
  return host.rethrow(result)
end

function App:subscribe(channel, name, config)
  local channelParts = type(channel) == 'table' and channel or extended(channel, {})
  local module = load(name, { channel = channelParts, config = config or {} },
    "the subscribers of '" .. table.concat(channelParts, ':') .. "'")
  if type(module) ~= 'table' or module.handler == nil then
    error(("handler module '%s' must return a table with a `handler` function"):format(name), 2)
  end
  local sub = self.event:subscribe(channelParts, module.handler, module.options)
  sub.module = name
  -- What `lusty routes` reads of a router (lusty/routes.lua).
  sub.routes = module.routes
  return sub
end

-- Publishes `context` on `channel` extended by `context.suffix`.
function App:publish(channel, context)
  local suffix = type(context) == 'table' and context.suffix
  if type(suffix) == 'table' and #suffix > 0 then
    channel = extended(channel, suffix)
  end
  return self.event:publish(channel, context)
end

-- Runs context module `name` once with `context` (the global context) and
-- `config` injected; a function it returns runs at the start of each request.
function App:addContext(name, config)
  local fn = load(name, { context = self.context, config = config or {} }, 'the context modules')
  if type(fn) == 'function' then
    local fns = self.contextFunctions
    fns[#fns + 1] = fn
  end
  return fn
end

-- One publisher of the pipeline: App.publish, but through the bus's
-- publishSuffixed (see the mediator module) when it has one, which
-- publishes on the channel extended by the request's path without making
-- the joined array and drops the results (the pipeline does not read
-- them). An app that replaced lusty.publish keeps getting every publish.
local function publishRequest(self, channel, context)
  local event = self.event
  local suffix = type(context) == 'table' and context.suffix
  if self.publish == App.publish and type(suffix) == 'table' and type(event) == 'table' then
    local fast = event.publishSuffixed
    if fast and fast(event, parts(channel), suffix, context) then return end
  end
  return self:publish(channel, context)
end

local function addError(context, err, trace)
  local errors = rawget(context, 'error')
  if type(errors) ~= 'table' then
    errors = {}
    context.error = errors
  end
  errors[#errors + 1] = {
    message = type(err) == 'string' and err or tostring(err),
    trace = trace,
    error = err,
  }
end

-- The pipeline of section 4 on a context built by the caller.
function App:request(context)
  context = context or {}
  if getmetatable(context) == nil then
    setmetatable(context, { __index = self.context })
  end
  if rawget(context, 'input') == nil then context.input = {} end
  if rawget(context, 'output') == nil then context.output = {} end
  local fns = self.contextFunctions
  -- xpcall with the host's message handler, as host.pcall does (the same
  -- traceback), but LuaJIT compiles this loop; host.pcall is a C function.
  for i = 1, #fns do
    local ok, err = xpcall(fns[i], msgh, context)
    if not ok then
      if err == EXIT then return context end
      addError(context, err, hostTrace(err))
    end
  end
  local publishers = self.publishers
  for i = 1, #publishers do
    local ok, err = xpcall(publishRequest, msgh, self, publishers[i], context)
    if not ok then
      if err == EXIT then return context end
      addError(context, err, hostTrace(err))
    end
  end
  return context
end

return function(options)
  options = options or {}
  local app = setmetatable({
    event = options.event or Mediator(),
    publishers = {},
    contextFunctions = {},
  }, App)
  app.context = { lusty = app }
  return app
end
