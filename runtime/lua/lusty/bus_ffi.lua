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
--      through it and moves the counter). A second cache maps the published
--      names to their plan (a trie of the parts), so that a publish on a
--      channel seen before makes no C call to find it; both caches are
--      bounded and dropped when the counter moves;
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
local key, resolve, resolveSuffixed, cpublish, call, msgh =
  deps.key, deps.resolve, deps.resolveSuffixed, deps.cpublish, deps.call, deps.msgh
local stack, rethrowingp = deps.stack, deps.rethrowingp
local enter, leave, parent, count, sub_at, alive =
  deps.enter, deps.leave, deps.parent, deps.count, deps.sub_at, deps.alive
local type, rawget, tonumber, xpcall, error = type, rawget, tonumber, xpcall, error

-- Runs subscriber table `sub` as lua_mediator.c's lua_sub_cb does: its
-- predicate, then its fn, both read at call time and called with every
-- published value; a value it returns goes to the result table of the
-- publish at depth `d` of the results stack, made on first use (most
-- pipeline publishes return nothing, and nobody reads their results).
-- Returns false when the publish must stop.
local function invoke(sub, d, ARGS)
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
  if value ~= nil then
    local results = stack[d]
    if not results then
      results = {}
      stack[d] = results
    end
    results[#results + 1] = value
  end
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
local function rest(st, plan, i, d, gen, ARGS)
  local bus, subs = st.bus, st.subs
  local c = plan.chan[i]
  for j = i + 1, plan.last[i] do
    local id = plan[j]
    if alive(bus, id) ~= 0 and not invoke(subs[id], d, ARGS) then return end
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
        and not invoke(subs[id], d, ARGS) then
        return
      end
    end
    c = parent(c)
  end
end

-- Runs the plan while the bus stays unchanged; returns its result table
-- (nil when no subscriber gave a value and nobody asked for the table).
-- The loop lives in this function, and each subscriber runs under its own
-- xpcall (as the C publish runs each under lua_pcall): a compiled loop may
-- return to a Lua frame, not to a pcall frame, so a loop inside a function
-- called by xpcall would send every exit back to the interpreter.
local function run(st, plan, ARGS)
  local n = plan.n
  if n == 0 then return nil end
  -- As publish() in lua_mediator.c: a slot on the results stack, where
  -- lusty.host.results() finds (or makes) the result table.
  local d = stack.n + 1
  stack.n = d
  stack[d] = false
  -- The counter the plan is valid for: a nested publish may move st.mut.
  local mut = st.mut
  enter(st.bus)
  -- Few locals live across the subscriber calls: LuaJIT compiles each
  -- subscriber of a plan as a side trace of this code, and a side trace
  -- with many live values fails to compile ("register coalescing too
  -- complex"), leaving that subscriber to the interpreter. The first two
  -- subscribers run in straight-line code, not in a loop: a loop that gets
  -- hot on its own becomes a root trace that cannot return to the caller
  -- ("return to lower frame"), and every publish then leaves it for the
  -- interpreter. Which of the two LuaJIT compiles first depends on its
  -- randomised back-off, so the same server was sometimes 45% slower.
  local i, ok, more = 1, true, nil
  ok, more = xpcall(invoke, msgh, st.subs[plan[1]], d, ARGS)
  if ok and more and n > 1 and st.mutp[0] == mut then
    i = 2
    ok, more = xpcall(invoke, msgh, st.subs[plan[2]], d, ARGS)
    if ok and more and n > 2 and st.mutp[0] == mut then
      repeat
        i = i + 1
        ok, more = xpcall(invoke, msgh, st.subs[plan[i]], d, ARGS)
      until not (ok and more and i < n and st.mutp[0] == mut)
    end
  end
  if ok and more and i < n then
    -- The subscriber at i changed the bus: the rest follows its rules.
    -- The bus's next id when the publish started is plan.gen (a subscribe
    -- moves the counter, so it has not changed since the plan was made).
    ok, more = xpcall(rest, msgh, st, plan, i, d, plan.gen, ARGS)
  end
  leave(st.bus)
  local results = stack[d]
  stack[d] = nil
  stack.n = d - 1
  if not ok then
    -- The same value goes on up, with the traceback of where it was raised.
    rethrowingp[0] = 1
    error(more, 0)
  end
  return results or nil
end

-- mediator:publish(channel, ...) -> results
local function publish(self, channel, ARGS)
  local st = type(self) == 'table' and rawget(self, key)
  local plan
  if st then plan = resolve(st, channel) end
  if plan == nil then return cpublish(self, channel, ARGS) end
  return run(st, plan, ARGS) or {}
end

-- mediator:publishSuffixed(names, suffix, ...): for the request pipeline.
-- When the channel `names` extended by `suffix` (two arrays of strings)
-- was published on before and the bus has not changed since, publishes
-- there without making the joined array and returns true; otherwise does
-- nothing and returns false, and the caller publishes as usual (which
-- caches the name). The results are dropped.
local function publishSuffixed(self, names, suffix, ARGS)
  local st = type(self) == 'table' and rawget(self, key)
  local plan = st and resolveSuffixed(st, names, suffix)
  if plan == nil then return false end
  run(st, plan, ARGS)
  return true
end

return publish, publishSuffixed
]=]
-- So that tracebacks give this file's line numbers: the first line of LOOP.
local LOOP_LINE = debug.getinfo(1, 'l').currentline - select(2, LOOP:gsub('\n', '')) - 1

-- Called by lua_mediator.c once per state, with:
--   key         light userdata: the private key of a mediator's state
--   api         light userdata: the lusty__lua_bus_ffi_t table of functions
--   rethrowing  light userdata: &S->rethrowing
--   results     the host's stack of the result tables of the publishes in
--               flight (what lusty.host.results() reads); its field `n` is
--               the depth, kept by this loop and by the C publish alike
--   msgh        the subscriber message handler (records the traceback)
--   cpublish    the C mediator:publish, for what this loop does not handle
--   call        function(f, ...): calls f as lua_call would (for values
--               that are not functions: same behaviour, same error message)
-- Returns publish(self, channel, ...), register(mediator, bus, subs) and
-- publishSuffixed(self, names, suffix, ...), or
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
  local rethrowingp = ffi.cast('int *', cfg.rethrowing)
  local stack, msgh, cpublish, call = cfg.results, cfg.msgh, cfg.cpublish, cfg.call
  local parts = ffi.new('const char *[?]', MAXP)
  local lens = ffi.new('size_t[?]', MAXP)
  local uintptr = ffi.typeof('uintptr_t')
  local cast = ffi.cast

  -- The mutation counter is read through its low 32 bits: a Lua number,
  -- where the uint64_t would be a boxed value (an allocation per read when
  -- the code runs interpreted). Equality is all the loop asks of it.
  local low = ffi.abi('be') and 1 or 0
  local function counter(b)
    return cast('const int32_t *', mutations(b)) + low
  end

  -- Each mediator object keeps its state under the private key `key`:
  -- { bus, subs (id -> subscriber table), mutp, mut, plans (by channel
  -- address), trie (published parts -> plan), ntrie, named (channel
  -- string -> plan), nnamed, root }. Kept in the object (not in a weak
  -- table) so that a mediator nobody references is collected in one cycle
  -- with its bus.
  local key = cfg.key
  local function register(mediator, bus, subs)
    local b = cast('void *', bus)
    rawset(mediator, key, { bus = b, subs = subs, mutp = counter(b), mut = false })
  end

  -- The plan of `ch`: plan[i] is the i-th subscriber id a publish starting
  -- there runs, plan.chan[i] its channel and plan.last[i] the index of the
  -- last entry of that channel; plan.c is true when a C subscriber is on it.
  local function build(ch, bus)
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
    plan.gen = tonumber(next_id(bus))
    return plan
  end

  -- The plan of the nearest channel to `channel` as the bus finds it, or
  -- nil for parts that are not strings or too many of them.
  local function find(st, channel, kind)
    local bus = st.bus
    local ch
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
    else
      ch = nearest(bus, kind == 'string' and channel or '')
    end
    local plans = st.plans
    local addr = tonumber(cast(uintptr, ch))
    local plan = plans[addr]
    if plan == nil then
      plan = build(ch, bus)
      plans[addr] = plan
    end
    return plan
  end

  -- Bounds of the name caches: requests publish on channels extended by
  -- their URL path, so the names seen are unbounded; the plans are not
  -- (one per existing channel).
  local MAXNAMES = 1024
  local PLAN = true -- the key of a trie node's plan (parts are strings)

  -- The trie node under `node` for the strings of array `parts`, or nil.
  local function descend(node, parts)
    for i = 1, #parts do
      local p = parts[i]
      if type(p) ~= 'string' then return nil end
      node = node[p]
      if node == nil then return nil end
    end
    return node
  end

  -- The plan of `names` extended by `suffix` when that channel is in the
  -- trie (published on since the bus last changed), else nil.
  local function resolveSuffixed(st, names, suffix)
    if st.mut ~= st.mutp[0] then return nil end
    local node = descend(st.trie, names)
    node = node and descend(node, suffix)
    local plan = node and node[PLAN]
    if plan == nil or plan.c then return nil end
    return plan
  end

  -- The plan a publish on `channel` runs, or nil when the C publish must
  -- run it (parts that are not strings, too many parts, C subscribers).
  -- Valid while st.mut is the bus's counter.
  local function resolve(st, channel)
    local mut = st.mutp[0]
    if st.mut ~= mut then
      st.mut, st.plans, st.trie, st.ntrie, st.named, st.nnamed, st.root =
        mut, {}, {}, 0, {}, 0, nil
    end
    local kind = type(channel)
    local plan
    if kind == 'table' then
      local node = descend(st.trie, channel)
      plan = node and node[PLAN]
      if plan == nil then
        plan = find(st, channel, kind)
        if plan == nil then return nil end
        if st.ntrie >= MAXNAMES then st.trie, st.ntrie = {}, 0 end
        node = st.trie
        for i = 1, #channel do
          local p = channel[i]
          local child = node[p]
          if child == nil then
            child = {}
            node[p] = child
            st.ntrie = st.ntrie + 1
          end
          node = child
        end
        node[PLAN] = plan
      end
    elseif kind == 'string' then
      plan = st.named[channel]
      if plan == nil then
        plan = find(st, channel, kind)
        if st.nnamed >= MAXNAMES then st.named, st.nnamed = {}, 0 end
        st.named[channel] = plan
        st.nnamed = st.nnamed + 1
      end
    elseif channel == nil then
      plan = st.root
      if plan == nil then
        plan = find(st, channel, kind)
        st.root = plan
      end
    else
      return nil
    end
    if plan.c then return nil end
    return plan
  end

  local deps = {
    key = key, resolve = resolve, resolveSuffixed = resolveSuffixed,
    cpublish = cpublish, call = call, msgh = msgh,
    stack = stack, rethrowingp = rethrowingp, enter = enter, leave = leave, parent = parent,
    count = count, sub_at = sub_at, alive = alive,
  }
  -- LuaJIT cannot compile `...` in a trace that starts inside the vararg
  -- function (after an inner loop, say), so the loop is compiled twice from
  -- one source: for exactly one published value (a request context, the
  -- common case) with ARGS = `a1`, and for any number with ARGS = `...`.
  local pad = ('\n'):rep(LOOP_LINE - 1)
  local one, oneSuffixed =
    assert(loadstring(pad .. LOOP:gsub('ARGS', 'a1'), '@<builtin>/lusty/bus_ffi.lua'))(deps)
  local any, anySuffixed =
    assert(loadstring(pad .. LOOP:gsub('ARGS', '...'), '@<builtin>/lusty/bus_ffi.lua'))(deps)

  -- mediator:publish(channel, ...) -> results
  local function publish(self, channel, ...)
    if select('#', ...) == 1 then return one(self, channel, (...)) end
    return any(self, channel, ...)
  end

  local function publishSuffixed(self, names, suffix, ...)
    if select('#', ...) == 1 then return oneSuffixed(self, names, suffix, (...)) end
    return anySuffixed(self, names, suffix, ...)
  end

  return publish, register, publishSuffixed
end

return M
