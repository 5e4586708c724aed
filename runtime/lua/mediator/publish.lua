-- The publish path of the `mediator` module (internal: mediator/init.lua
-- owns the objects; docs/bus.md has the rules).
--
-- Everything between a publisher and its subscribers is Lua: no C function
-- and no pcall sits in between, so a subscriber running in a coroutine may
-- yield (from inside pcall too) and the publish carries on when the
-- coroutine is resumed; an error raised by a subscriber travels up to
-- whoever catches it, with the traceback of where it was raised.
--
-- A bus record is { root, gen, nextId, subs, plans }:
--   root    the root channel object;
--   gen     moves on every subscribe, removal and priority change;
--   nextId  the id the next subscriber gets (ids only grow);
--   subs    the live subscribers by id: a removed one is no longer there,
--           which is its dead mark;
--   plans   channel object -> plan, replaced by an empty table whenever gen
--           moves, so that a stale plan is referenced by nothing but the
--           publishes still walking it (and is collected with them).
-- A plan is the flattened list a publish starting on a channel runs: that
-- channel's subscribers, then each ancestor's up to the root; plan.owner[i]
-- is the channel of entry i and plan.nextId the bus's nextId when it was
-- made (plans are made at the start of a publish, for the current gen).
local names = require 'mediator.names'

local type, error, select, unpack = type, error, select, unpack
local channelNames, part = names.of, names.part
local getmetatable, getinfo, getlocal, setlocal =
  debug.getmetatable, debug.getinfo, debug.getlocal, debug.setlocal

local M = {}

function M.new()
  return { root = false, gen = 0, nextId = 1, subs = {}, plans = {} }
end

-- To be called after every change of a subscriber list.
function M.changed(bus)
  bus.gen = bus.gen + 1
  bus.plans = {}
end

-- Calls `f`, a subscriber's fn or predicate that is not a function (a
-- callable table, or a mistake reported as Lua reports calling it).
local function callValue(f, ...)
  local mt = getmetatable(f)
  if type(mt) ~= 'table' or mt.__call == nil then
    error(('attempt to call a %s value'):format(type(f)), 0)
  end
  return f(...)
end

-- The published values travel as a count `n`, the first three and the
-- rest in an array `extra` (nil up to three): the functions below take no
-- `...`. LuaJIT cannot compile `...` in a trace that starts inside the
-- function that has it (at a loop, or at a side exit), so the entries
-- (M.publish and the others) read their `...` once, before any loop.

-- Calls `f` with the published values.
local function call(f, n, a1, a2, a3, extra)
  if type(f) ~= 'function' then
    if n <= 3 then return callValue(f, unpack({ a1, a2, a3 }, 1, n)) end
    return callValue(f, a1, a2, a3, unpack(extra, 1, n - 3))
  end
  if n == 1 then return f(a1) end
  if n == 0 then return f() end
  if n == 2 then return f(a1, a2) end
  if n == 3 then return f(a1, a2, a3) end
  return f(a1, a2, a3, unpack(extra, 1, n - 3))
end

-- Runs subscriber `sub` with the published values: its predicate, then its
-- fn, both read at call time. A non-nil value goes into `results`, made on
-- first use (most pipeline publishes return nothing). Returns the results
-- and whether the publish goes on. The only caller of subscribers: M.results
-- finds the publish's results in this function's frame.
local function invoke(results, sub, n, a1, a2, a3, extra)
  local options = sub.options
  if type(options) == 'table' then
    local predicate = options.predicate
    if predicate ~= nil and not call(predicate, n, a1, a2, a3, extra) then
      return results, true
    end
  end
  local value, more = call(sub.fn, n, a1, a2, a3, extra)
  if value ~= nil then
    if not results then results = {} end
    results[#results + 1] = value
  end
  return results, more
end

-- The rest of a publish after entry `i` of `plan` when the bus changed
-- since the publish started (a subscriber, or code that ran while it was
-- suspended, subscribed, removed or moved someone). The rest of the
-- channel of entry i runs from the plan, which is that channel's list as
-- the publish reached it; each ancestor runs from a copy of its list taken
-- when the publish reaches it. Removed subscribers are skipped, and so are
-- those added since the publish started.
local function rest(results, bus, plan, i, n, a1, a2, a3, extra)
  local subs, owner, before = bus.subs, plan.owner, plan.nextId
  local ch, more = owner[i], nil
  for j = i + 1, plan.n do
    if owner[j] ~= ch then break end
    local sub = plan[j]
    if subs[sub.id] == sub then
      results, more = invoke(results, sub, n, a1, a2, a3, extra)
      if not more then return results end
    end
  end
  while ch ~= bus.root do
    ch = ch.parent
    local list, copy = ch.callbacks, {}
    for x = 1, #list do copy[x] = list[x] end
    for x = 1, #copy do
      local sub = copy[x]
      if sub.id < before and subs[sub.id] == sub then
        results, more = invoke(results, sub, n, a1, a2, a3, extra)
        if not more then return results end
      end
    end
  end
  return results
end

-- Runs `plan` with the published values; returns the results (nil when no
-- subscriber gave a value and `results` was nil). While the bus does not
-- change the plan is all there is to it: no copy, no check per subscriber.
local function run(results, bus, plan, n, a1, a2, a3, extra)
  local gen, more = bus.gen, nil
  for i = 1, plan.n do
    results, more = invoke(results, plan[i], n, a1, a2, a3, extra)
    if not more then return results end
    if bus.gen ~= gen then return rest(results, bus, plan, i, n, a1, a2, a3, extra) end
  end
  return results
end

-- The plan of channel `ch`, made on the first publish there since the bus
-- last changed.
local function planOf(bus, ch)
  local plans = bus.plans
  local plan = plans[ch]
  if plan ~= nil then return plan end
  local owner, n, c, root = {}, 0, ch, bus.root
  plan = { owner = owner, nextId = bus.nextId }
  while true do
    local list = c.callbacks
    for x = 1, #list do
      n = n + 1
      plan[n], owner[n] = list[x], c
    end
    if c == root then break end
    c = c.parent
  end
  plan.n = n
  plans[ch] = plan
  return plan
end

-- The deepest existing channel on the path `list` (an array of names)
-- below `ch`, and whether all of it exists. Creates nothing; every part is
-- checked, also past the end of the existing channels.
local function descend(ch, list)
  for i = 1, #list do
    local p = list[i]
    if type(p) ~= 'string' then p = part(p, i) end
    local child = ch.channels[p]
    if child == nil then
      for j = i + 1, #list do
        if type(list[j]) ~= 'string' then part(list[j], j) end
      end
      return ch, false
    end
    ch = child
  end
  return ch, true
end

-- The channel a publish on `channel` (nil, a string or an array) starts on.
local function nearest(bus, channel)
  if channel == nil then return bus.root end
  return (descend(bus.root, channelNames(channel)))
end

-- mediator:publish(channel, ...) -> results (a new table)
function M.publish(bus, channel, ...)
  local n, a1, a2, a3 = select('#', ...), ...
  local extra = n > 3 and { select(4, ...) } or nil
  local plan = planOf(bus, nearest(bus, channel))
  return run(nil, bus, plan, n, a1, a2, a3, extra) or {}
end

-- channel:publish(results, ...): appends to `results`.
function M.publishOn(bus, ch, results, ...)
  local n, a1, a2, a3 = select('#', ...), ...
  local extra = n > 3 and { select(4, ...) } or nil
  return run(results, bus, planOf(bus, ch), n, a1, a2, a3, extra)
end

-- The request pipeline's publish: on `list` (an array of names) extended
-- by `suffix` (another), without joining them into a new array. The
-- results are dropped.
function M.publishSuffixed(bus, list, suffix, ...)
  local n, a1, a2, a3 = select('#', ...), ...
  local extra = n > 3 and { select(4, ...) } or nil
  local ch, whole = descend(bus.root, list)
  if whole then ch = descend(ch, suffix) end
  run(nil, bus, planOf(bus, ch), n, a1, a2, a3, extra)
end

-- lusty.host.results(): the result table of the publish that is running
-- the current subscriber (the innermost one in this coroutine), made if
-- need be, or nil outside a subscriber. A seed-style callback(result)
-- appends to it. It is read from the frame of invoke() on the stack, so it
-- stays right across yields (each coroutine has its own stack) and after a
-- nested publish failed (its frames are gone); publishes pay nothing for it.
function M.results()
  local level = 2
  while true do
    local info = getinfo(level, 'f')
    if info == nil then return nil end
    if info.func == invoke then
      local _, results = getlocal(level, 1)
      if not results then
        results = {}
        setlocal(level, 1, results)
      end
      return results
    end
    level = level + 1
  end
end

return M
