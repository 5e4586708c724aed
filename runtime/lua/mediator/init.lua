-- The `mediator` module: the event bus Lusty apps publish and subscribe on
-- (the host's `lusty.event` is one), with the API of the original pure-Lua
-- lua-mediator. The rules are in docs/bus.md; the publish path is
-- mediator/publish.lua.
--
--   local m = require 'mediator'()
--   local sub = m:subscribe('data:user', function(ctx) return ctx.id, true end)
--   m:publish('data:user:get', { id = 7 })   --> { 7 }
--
-- Objects are plain tables that Lua code may read:
--   channel     { namespace, parent, callbacks (subscribers in order),
--                 channels (children by name), stopped } and the methods;
--   subscriber  { id, fn, options, channel, update };
--   mediator    { channel = the root channel } and the methods.
-- `callbacks` and `channels` are the bus's own lists: change them through
-- the methods only. Each channel and mediator keeps its bus record (see
-- mediator/publish.lua) under a private key.
local names = require 'mediator.names'
local engine = require 'mediator.publish'

local type, tonumber, tostring, rawget, setmetatable, error =
  type, tonumber, tostring, rawget, setmetatable, error
local floor, insert, remove = math.floor, table.insert, table.remove
local publish, publishOn, publishSuffixed, changed =
  engine.publish, engine.publishOn, engine.publishSuffixed, engine.changed

local BUS = {} -- the private key of the bus record

local Channel = {}
Channel.__index = Channel
local Mediator = {}
Mediator.__index = Mediator

-- The bus record of `self`, a channel or mediator called with ':'.
local function busOf(self)
  local bus = type(self) == 'table' and rawget(self, BUS)
  if not bus then
    error("bad self: expected a mediator or a channel (call it with ':')", 0)
  end
  return bus
end

local function newChannel(bus, namespace, parent)
  return setmetatable({
    namespace = namespace,
    parent = parent,
    callbacks = {},
    channels = {},
    stopped = false,
    [BUS] = bus,
  }, Channel)
end

-- The child `name` of `ch`, made if missing.
local function child(bus, ch, name)
  local c = ch.channels[name]
  if c == nil then
    c = newChannel(bus, name, ch)
    ch.channels[name] = c
  end
  return c
end

-- The channel at `channel` (nil, a string or an array) under the root,
-- made if missing (`make`), else nil when missing.
local function channelAt(bus, channel, make)
  local list = names.of(channel)
  local ch = bus.root
  for i = 1, #list do
    local name = names.part(list[i], i)
    local c = ch.channels[name]
    if c == nil then
      if not make then return nil end
      c = child(bus, ch, name)
    end
    ch = c
  end
  return ch
end

-- subscriber:update({ fn = …, options = … })
local function update(self, changes)
  if type(changes) == 'table' then
    if changes.fn ~= nil then self.fn = changes.fn end
    if changes.options ~= nil then self.options = changes.options end
  end
end

-- Subscribes `fn` on `ch`: last, or at position options.priority when that
-- is between 1 and the current count.
local function subscribe(bus, ch, fn, options)
  if fn == nil then error('bad subscriber: expected a function, got nil', 0) end
  local id = bus.nextId
  bus.nextId = id + 1
  local sub = {
    id = id,
    fn = fn,
    options = type(options) == 'table' and options or {},
    channel = ch,
    update = update,
  }
  local list = ch.callbacks
  local priority = type(options) == 'table' and tonumber(options.priority)
  if priority and priority >= 1 and priority <= #list then
    insert(list, floor(priority), sub)
  else
    list[#list + 1] = sub
  end
  bus.subs[id] = sub
  changed(bus)
  return sub
end

local function checkId(id)
  local n = tonumber(id)
  if n == nil then error(('bad id: expected a number, got %s'):format(type(id)), 0) end
  return n
end

-- Subscriber `id` when it is on `from` or a channel below it, and its
-- position in its channel's list.
local function locate(bus, from, id)
  local sub = from and bus.subs[checkId(id)]
  if sub == nil then return nil end
  local c, root = sub.channel, bus.root
  while c ~= from do
    if c == root then return nil end
    c = c.parent
  end
  local list = sub.channel.callbacks
  for i = 1, #list do
    if list[i] == sub then return sub, i end
  end
end

local function lookup(bus, from, id)
  local sub, index = locate(bus, from, id)
  if sub == nil then return nil end
  return { index = index, value = sub }
end

local function unsubscribe(bus, from, id)
  local sub, index = locate(bus, from, id)
  if sub == nil then return nil end
  remove(sub.channel.callbacks, index)
  bus.subs[sub.id] = nil
  changed(bus)
  return sub
end

-- ---- channel methods ----

function Channel:addSubscriber(fn, options)
  return subscribe(busOf(self), self, fn, options)
end

function Channel:getSubscriber(id)
  return lookup(busOf(self), self, id)
end

function Channel:removeSubscriber(id)
  return unsubscribe(busOf(self), self, id)
end

-- Moves subscriber `id` (on this channel or below) to `priority` within
-- its channel, clamped to the list.
function Channel:setPriority(id, priority)
  local bus = busOf(self)
  local p = tonumber(priority)
  if p == nil then error(('bad priority: expected a number, got %s'):format(type(priority)), 0) end
  local sub, index = locate(bus, self, id)
  if sub == nil then return end
  local list = sub.channel.callbacks
  remove(list, index)
  p = p < 1 and 1 or p > #list + 1 and #list + 1 or floor(p)
  insert(list, p, sub)
  changed(bus)
end

local function checkName(name)
  if type(name) == 'number' then return tostring(name) end
  if type(name) ~= 'string' then
    error(('bad channel name: expected a string, got %s'):format(type(name)), 0)
  end
  return name
end

-- The child channel `name`, made if missing (addChannel does the same).
function Channel:getChannel(name)
  return child(busOf(self), self, checkName(name))
end
Channel.addChannel = Channel.getChannel

function Channel:hasChannel(name)
  busOf(self)
  if type(name) == 'number' then name = tostring(name) end
  if name ~= nil and self.channels[name] ~= nil then return true end
  return nil
end

-- channel:publish(results, ...) -> results: a publish starting here,
-- appending to `results` (a new table when it is not one).
function Channel:publish(results, ...)
  local bus = busOf(self)
  if type(results) ~= 'table' then results = {} end
  return publishOn(bus, self, results, ...)
end

-- ---- mediator methods ----

function Mediator:getChannel(channel)
  return channelAt(busOf(self), channel, true)
end

function Mediator:subscribe(channel, fn, options)
  local bus = busOf(self)
  return subscribe(bus, channelAt(bus, channel, true), fn, options)
end

function Mediator:getSubscriber(id, channel)
  local bus = busOf(self)
  return lookup(bus, channelAt(bus, channel, false), id)
end

function Mediator:removeSubscriber(id, channel)
  local bus = busOf(self)
  return unsubscribe(bus, channelAt(bus, channel, false), id)
end

-- mediator:publish(channel, ...) -> results
function Mediator:publish(channel, ...)
  return publish(busOf(self), channel, ...)
end

-- mediator:publishSuffixed(names, suffix, ...) -> true: publishes on the
-- array `names` extended by the array `suffix` without joining them (the
-- request pipeline's publish); the results are dropped.
function Mediator:publishSuffixed(list, suffix, ...)
  publishSuffixed(busOf(self), list, suffix, ...)
  return true
end

-- ---- the module ----

local detached = 0 -- ids of Mediator.Subscriber(), negative: never a bus's

-- Mediator.Channel(namespace[, parent]): a detached channel, the root of a
-- bus of its own (`parent` is only recorded).
local function newRoot(namespace, parent)
  if namespace ~= nil then namespace = checkName(namespace) end
  local bus = engine.new()
  local root = newChannel(bus, namespace or 'root', nil)
  bus.root = root
  if parent ~= nil then root.parent = parent end
  return root
end

-- Mediator.Subscriber(fn, options): a subscriber on no channel.
local function newSubscriber(fn, options)
  detached = detached - 1
  return {
    id = detached,
    fn = fn,
    options = type(options) == 'table' and options or {},
    update = update,
  }
end

return setmetatable({ Channel = newRoot, Subscriber = newSubscriber }, {
  -- Mediator(): a mediator over a fresh bus.
  __call = function()
    local root = newRoot('root')
    return setmetatable({ channel = root, [BUS] = rawget(root, BUS) }, Mediator)
  end,
})
