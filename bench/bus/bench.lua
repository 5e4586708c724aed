-- The bus benchmark, run inside lusty's host by bench/bus/run:
--   lusty exec bench/bus/bench.lua [iterations]
-- Request-shaped publishing: each iteration makes a fresh context table and
-- publishes it on {'request', 'api', <kind>, <id>} (100 distinct paths),
-- with 3 subscribers spread over request, request:api and request:api:users,
-- all continuing and all with effects checked after the loop (so that
-- LuaJIT cannot compile the work away). Compared with Debian's lua-mediator
-- (the original pure-Lua mediator) loaded in the same LuaJIT.
local N = tonumber(arg[1]) or 2000000
local ours = require 'mediator'
local original = assert(loadfile('/usr/share/lua/5.1/mediator.lua'),
  'Debian lua-mediator is not installed (scripts/setup --bench)')()

local kinds, ids = {}, {}
for i = 1, 100 do
  kinds[i] = i <= 50 and 'users' or 'posts'
  ids[i] = tostring(i)
end

local function subscribe(m)
  m:subscribe({ 'request' }, function(c)
    c.count = c.count + 1
    return nil, true
  end)
  m:subscribe({ 'request', 'api' }, function(c)
    c.bytes = c.bytes + #c.id
    return nil, true
  end)
  m:subscribe({ 'request', 'api', 'users' }, function(c)
    c.users = c.users + 1
    return c.id, true
  end)
end

-- Publishes N requests; returns publishes per second and the checksum.
local function run(m)
  subscribe(m)
  local count, bytes, users, results = 0, 0, 0, 0
  local t0 = os.clock()
  for i = 1, N do
    local k = i % 100 + 1
    local c = { id = ids[k], count = 0, bytes = 0, users = 0 }
    local r = m:publish({ 'request', 'api', kinds[k], ids[k] }, c)
    count, bytes, users, results = count + c.count, bytes + c.bytes, users + c.users, results + #r
  end
  local dt = os.clock() - t0
  assert(count == N and users == N / 2 and results == N / 2, 'subscribers did not all run')
  return N / dt, bytes
end

local function best(make)
  local top = 0
  for _ = 1, 3 do
    local rate = run(make())
    if rate > top then top = rate end
  end
  return top
end

local function rss_kb()
  for line in io.lines('/proc/self/status') do
    local kb = line:match('^VmRSS:%s+(%d+)')
    if kb then return tonumber(kb) end
  end
end

-- Memory after publishing on a million distinct paths: Lua heap and RSS
-- (publishing creates no channel, so both should stay flat).
local function growth(m)
  subscribe(m)
  local c = { id = 'x', count = 0, bytes = 0, users = 0 }
  for i = 1, 1000 do m:publish({ 'request', 'api', 'users', 'warm' .. i }, c) end
  collectgarbage() collectgarbage()
  local heap0, rss0 = collectgarbage('count'), rss_kb()
  local M = 1000000
  for i = 1, M do m:publish({ 'request', 'api', 'users', 'p' .. i }, c) end
  collectgarbage() collectgarbage()
  local heap1, rss1 = collectgarbage('count'), rss_kb()
  return (heap1 - heap0) * 1024 / M, (rss1 - rss0) * 1024 / M
end

-- lusty:request with 5 publishers and 2 subscribers.
local function request_cost()
  local app = require 'lusty'()
  app.publishers = { { 'input' }, { 'request' }, { 'render' }, { 'error' }, { 'output' } }
  app.event:subscribe('request', function(ctx) ctx.output.n = #ctx.suffix return nil, true end)
  app.event:subscribe('output', function(ctx) ctx.sent = ctx.output.n return ctx.sent end)
  local R = math.floor(N / 4)
  local sent = 0
  local t0 = os.clock()
  for i = 1, R do
    local k = i % 100 + 1
    local ctx = app:request({ suffix = { 'api', kinds[k], ids[k] } })
    sent = sent + ctx.sent
  end
  local dt = os.clock() - t0
  assert(sent == 3 * R)
  return dt / R * 1e9, R / dt
end

local orig = best(function() return original() end)
local mine = best(function() return ours() end)
print(('original lua-mediator      %12.0f publishes/s'):format(orig))
print(('lusty mediator             %12.0f publishes/s  (%.2fx)'):format(mine, mine / orig))
local oheap, orss = growth(original())
local mheap, mrss = growth(ours())
print(('memory per distinct path: original %.0f B heap (%.0f B RSS); lusty %.1f B heap (%.1f B RSS)')
  :format(oheap, orss, mheap, mrss))
local ns, rps = request_cost()
print(('lusty:request, 5 publishers, 2 subscribers: %.0f ns/request (%.0f requests/s)'):format(ns, rps))
