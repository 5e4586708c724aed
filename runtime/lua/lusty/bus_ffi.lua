-- The publish loop of the `mediator` module, in Lua so that LuaJIT compiles
-- it (internal: lua_mediator.c loads it and installs `publish`).
--
-- LuaJIT does not compile calls made through the classic Lua C API, so a
-- publish that is one C call running every subscriber with lua_pcall keeps
-- the caller's loop in the interpreter. Here a publish crosses into C only
-- through FFI calls, which the JIT compiles:
--   1. the C bus resolves the path to the deepest existing channel
--      (lusty_bus_nearestv, with the parts' lengths: no strlen, nothing
--      created);
--   2. the "plan" of that channel, the ids of the subscribers from it up to
--      the root in run order, comes from a per-mediator Lua cache that is
--      valid while the bus's mutation counter does not move (the C bus stays
--      the source of truth: every subscribe, removal and priority change goes
--      through it and moves the counter);
--   3. a Lua loop calls each subscriber's `fn` (and `options.predicate`) as
--      they are at call time, appends non-nil values and honours `continue`.
-- The bus is marked as publishing (lusty_bus_enter/leave) for the duration,
-- so removed subscribers and channels stay allocated, as the C publish does.
-- After each subscriber the loop checks the mutation counter; when a
-- subscriber changed the bus, the rest of the publish follows the bus's
-- re-entrancy rules exactly (see rest() below and docs/bus.md).
-- Channels with C subscribers, channel parts that are not strings and more
-- than MAXP parts take the C publish, which handles everything.
local M = {}

local ok, ffi = pcall(require, 'ffi')
if not ok then ffi = nil end

local type, tonumber, rawset, loadstring, assert, select =
  type, tonumber, rawset, loadstring, assert, select

local MAXP = 32

-- The publish loop, compiled by setup() for ARGS = `a1` and ARGS = `...`.
local LOOP = [=[
local deps = ...
local key, resolve, cpublish, call, msgh = deps.key, deps.resolve, deps.cpublish, deps.call, deps.msgh
local stack, depthp, currentp, rethrowingp, marker =
  deps.stack, deps.depthp, deps.currentp, deps.rethrowingp, deps.marker
local next_id, enter, leave, parent, count, sub_at, alive =
  deps.next_id, deps.enter, deps.leave, deps.parent, deps.count, deps.sub_at, deps.alive
local type, rawget, tonumber, xpcall, error = type, rawget, tonumber, xpcall, error

-- Runs subscriber table `sub` as lua_mediator.c's lua_sub_cb does: its
-- predicate, then its fn, both read at call time and called with every
-- published value. Returns false when the publish must stop.
local function invoke(sub, results, ARGS)
  if type(sub) ~= 'table' then return true end
  local options = rawget(sub, 'options')
  if type(options) == 'table' then
    local predicate = rawget(options, 'predicate')
    if predicate ~= nil then
      local pass
      if type(predicate) == 'function' then
        pass = predicate(ARGS)
      else
        pass = call(predicate, ARGS)
      end
      if not pass then return true end
    end
  end
  local fn = rawget(sub, 'fn')
  local value, more
  if type(fn) == 'function' then
    value, more = fn(ARGS)
  else
    value, more = call(fn, ARGS)
  end
  if value ~= nil then results[#results + 1] = value end
  return more and true or false
end

-- The rest of a publish after the subscriber at plan entry `i` changed the
-- bus. Up to then nothing had changed, so the plan's entries for the
-- channel of entry `i` are the list that channel had when the publish
-- reached it: the rest of them run from the plan. Each ancestor then runs
-- from a copy of its list taken when the publish reaches it. Removed
-- subscribers are skipped (the bus is asked: they may have been removed
-- from C), and so are those added since the publish started (ids >= gen).
-- The bus is marked as publishing, so the channel pointers stay valid.
local function rest(st, plan, i, results, gen, ARGS)
  local bus, subs = st.bus, st.subs
  local c = plan.chan[i]
  for j = i + 1, plan.last[i] do
    local id = plan[j]
    if alive(bus, id) ~= 0 and not invoke(subs[id], results, ARGS) then return end
  end
  c = parent(c)
  while c ~= nil do
    local n = tonumber(count(c))
    local snap = {}
    for x = 1, n do snap[x] = sub_at(c, x - 1) end
    for x = 1, n do
      local id = snap[x]
      -- An id below gen was on the plan, so it is a Lua subscriber.
      if id > 0 and id < gen and alive(bus, id) ~= 0
        and not invoke(subs[id], results, ARGS) then
        return
      end
    end
    c = parent(c)
  end
end

-- Runs the plan while the bus stays unchanged. The loop lives in this
-- function, and each subscriber runs under its own xpcall (as the C publish
-- runs each under lua_pcall): a compiled loop may return to a Lua frame,
-- not to a pcall frame, so a loop inside a function called by xpcall would
-- send every exit back to the interpreter.
return function(self, channel, ARGS)
  local st = type(self) == 'table' and rawget(self, key)
  local plan, mut
  if st then plan, mut = resolve(st, channel) end
  if plan == nil then return cpublish(self, channel, ARGS) end
  local results = {}
  local n = plan.n
  if n == 0 then return results end
  -- As publish() in lua_mediator.c: the result table where
  -- lusty.host.results() finds it, and S->current set.
  local d = depthp[0] + 1
  depthp[0] = d
  stack[d] = results
  local current = currentp[0]
  currentp[0] = marker
  local bus = st.bus
  local gen = tonumber(next_id(bus))
  enter(bus)
  local subs, mutp = st.subs, st.mutp
  local done, err = true, nil
  for i = 1, n do
    local more
    done, more = xpcall(invoke, msgh, subs[plan[i]], results, ARGS)
    if not done then
      err = more
      break
    end
    if not more then break end
    if tonumber(mutp[0]) ~= mut then
      done, err = xpcall(rest, msgh, st, plan, i, results, gen, ARGS)
      break
    end
  end
  leave(bus)
  currentp[0] = current
  depthp[0] = d - 1
  if not done then
    -- The same value goes on up, with the traceback of where it was raised.
    rethrowingp[0] = 1
    error(err, 0)
  end
  return results
end
]=]
-- So that tracebacks give this file's line numbers: the first line of LOOP.
local LOOP_LINE = debug.getinfo(1, 'l').currentline - select(2, LOOP:gsub('\n', '')) - 1

-- Called by lua_mediator.c once per state, with:
--   key         light userdata: the private key of a mediator's state
--   api         light userdata: the lusty__lua_bus_ffi_t table of functions
--   depth, current, rethrowing, marker
--               light userdata: &S->depth, &S->current, &S->rethrowing and
--               the marker that S->current holds during a publish run here
--   results     the host's stack of the result tables of the publishes in
--               flight (what lusty.host.results() reads)
--   msgh        the subscriber message handler (records the traceback)
--   cpublish    the C mediator:publish, for what this loop does not handle
--   call        function(f, ...): calls f as lua_call would (for values
--               that are not functions: same behaviour, same error message)
-- Returns publish(self, channel, ...) and register(mediator, bus, subs), or
-- nothing when LuaJIT's FFI is missing (the C publish then stays).
function M.setup(cfg)
  if not ffi then return end

  if not pcall(ffi.typeof, 'lusty__lua_bus_ffi_t') then
    ffi.cdef [[
      typedef struct {
        void *(*nearest)(void *bus, const char *path);
        void *(*nearestv)(void *bus, const char **parts, const size_t *lens, size_t n);
        const uint64_t *(*mutations)(void *bus);
        uint64_t (*next_id)(void *bus);
        void (*enter)(void *bus);
        void (*leave)(void *bus);
        void *(*parent)(void *channel);
        size_t (*count)(void *channel);
        double (*sub_at)(void *channel, size_t index);
        int (*alive)(void *bus, double id);
      } lusty__lua_bus_ffi_t;
    ]]
  end
  local api = ffi.cast('lusty__lua_bus_ffi_t *', cfg.api)
  local nearest, nearestv, mutations, next_id = api.nearest, api.nearestv, api.mutations, api.next_id
  local enter, leave, parent, count, sub_at, alive =
    api.enter, api.leave, api.parent, api.count, api.sub_at, api.alive
  local depthp = ffi.cast('int *', cfg.depth)
  local currentp = ffi.cast('void **', cfg.current)
  local rethrowingp = ffi.cast('int *', cfg.rethrowing)
  local marker = ffi.cast('void *', cfg.marker)
  local stack, msgh, cpublish, call = cfg.results, cfg.msgh, cfg.cpublish, cfg.call
  local parts = ffi.new('const char *[?]', MAXP)
  local lens = ffi.new('size_t[?]', MAXP)
  local uintptr = ffi.typeof('uintptr_t')
  local cast = ffi.cast

  -- Each mediator object keeps its state under the private key `key`:
  -- { bus, subs (id -> subscriber table), mutp, plans, mut }. Kept in the
  -- object (not in a weak table) so that a mediator nobody references is
  -- collected in one cycle with its bus.
  local key = cfg.key
  local function register(mediator, bus, subs)
    local b = cast('void *', bus)
    rawset(mediator, key, { bus = b, subs = subs, mutp = mutations(b), plans = {}, mut = -1 })
  end

  -- The plan of `ch`: plan[i] is the i-th subscriber id a publish starting
  -- there runs, plan.chan[i] its channel and plan.last[i] the index of the
  -- last entry of that channel; plan.c is true when a C subscriber is on it.
  local function build(ch)
    local plan, chan, last = {}, {}, {}
    local n, c, hasC = 0, ch, false
    while c ~= nil do
      local first = n + 1
      for x = 0, tonumber(count(c)) - 1 do
        local id = sub_at(c, x)
        if id < 0 then hasC = true end
        n = n + 1
        plan[n], chan[n] = id, c
      end
      for j = first, n do last[j] = n end
      c = parent(c)
    end
    plan.n, plan.chan, plan.last, plan.c = n, chan, last, hasC
    return plan
  end

  -- The plan a publish on `channel` runs, or nil when the C publish must
  -- run it (parts that are not strings, too many parts, C subscribers).
  local function resolve(st, channel)
    local bus = st.bus
    local ch
    local kind = type(channel)
    if kind == 'table' then
      local n = #channel
      if n > MAXP then return nil end
      for i = 1, n do
        local p = channel[i]
        if type(p) ~= 'string' then return nil end
        parts[i - 1] = p
        lens[i - 1] = #p
      end
      ch = nearestv(bus, parts, lens, n)
    elseif kind == 'string' then
      ch = nearest(bus, channel)
    elseif channel == nil then
      ch = nearest(bus, '')
    else
      return nil
    end
    local mut = tonumber(st.mutp[0])
    local plans = st.plans
    if st.mut ~= mut then
      plans = {}
      st.plans, st.mut = plans, mut
    end
    local key = tonumber(cast(uintptr, ch))
    local plan = plans[key]
    if plan == nil then
      plan = build(ch)
      plans[key] = plan
    end
    if plan.c then return nil end
    return plan, mut
  end

  local deps = {
    key = key, resolve = resolve, cpublish = cpublish, call = call, msgh = msgh,
    stack = stack, depthp = depthp, currentp = currentp, rethrowingp = rethrowingp,
    marker = marker, next_id = next_id, enter = enter, leave = leave, parent = parent,
    count = count, sub_at = sub_at, alive = alive,
  }
  -- LuaJIT cannot compile `...` in a trace that starts inside the vararg
  -- function (after an inner loop, say), so the loop is compiled twice from
  -- one source: for exactly one published value (a request context, the
  -- common case) with ARGS = `a1`, and for any number with ARGS = `...`.
  local pad = ('\n'):rep(LOOP_LINE - 1)
  local one = assert(loadstring(pad .. LOOP:gsub('ARGS', 'a1'), '@<builtin>/lusty/bus_ffi.lua'))(deps)
  local any = assert(loadstring(pad .. LOOP:gsub('ARGS', '...'), '@<builtin>/lusty/bus_ffi.lua'))(deps)

  -- mediator:publish(channel, ...) -> results
  local function publish(self, channel, ...)
    if select('#', ...) == 1 then return one(self, channel, (...)) end
    return any(self, channel, ...)
  end

  return publish, register
end

return M
