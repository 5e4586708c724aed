-- Publishing through subscribers that yield: nothing but Lua sits between
-- a publisher and its subscribers, so a subscriber running in a coroutine
-- may yield (from inside pcall too), and the publish goes on when the
-- coroutine is resumed, by the bus rules, whatever changed meanwhile.
local Mediator = require 'mediator'
local host = require 'lusty.host'

local yield = coroutine.yield

-- Runs fn(...) in a new coroutine up to its first yield; returns a function
-- that resumes it and returns what it yielded or returned.
local function start(fn, ...)
  local co = coroutine.create(fn)
  local function step(...)
    local out = { coroutine.resume(co, ...) }
    assert(out[1], out[2])
    return unpack(out, 2, table.maxn(out))
  end
  step(...)
  return step, co
end

local function logger(log, name, value)
  return function() log[#log + 1] = name return value, true end
end

describe('a subscriber that yields', function()
  local m, log
  before_each(function()
    m = Mediator()
    log = {}
  end)

  it('suspends the publish, which goes on where it stopped when resumed', function()
    m:subscribe('a:b', function(x)
      log[#log + 1] = 'before'
      local got = yield('waiting')
      log[#log + 1] = 'after ' .. got
      return x .. got, true
    end)
    m:subscribe('a:b', logger(log, 'next', 'n'))
    m:subscribe('a', logger(log, 'parent', 'p'))
    local results
    local resume = start(function() results = m:publish('a:b:c', 'x') return 'done' end)
    assert.are.same({ 'before' }, log)
    assert.are.equal('done', resume('!'))
    assert.are.same({ 'before', 'after !', 'next', 'parent' }, log)
    assert.are.same({ 'x!', 'n', 'p' }, results)
  end)

  it('may yield whatever the publish: string, array with numbers, channel:publish', function()
    m:subscribe({ 'a', 1 }, function(x) return x + yield(), true end)
    local publishes = {
      function() return m:publish('a:1:x', 1) end,
      function() return m:publish({ 'a', 1, 'x' }, 1) end,
      function() return m:getChannel('a:1'):publish({ 'kept' }, 1) end,
    }
    local got = {}
    for i, publish in ipairs(publishes) do
      local resume = start(function() got[i] = publish() end)
      resume(10)
    end
    assert.are.same({ { 11 }, { 11 }, { 'kept', 11 } }, got)
    -- The request pipeline's publish (results dropped).
    local ctx = {}
    m:subscribe('r:users', function(c) c.v = yield() return nil, true end)
    local resume = start(function() return m:publishSuffixed({ 'r' }, { 'users', '7' }, ctx) end)
    assert.is_true(resume(42))
    assert.are.equal(42, ctx.v)
  end)

  it('may yield from inside pcall and from a predicate', function()
    m:subscribe('a', function()
      local ok, got = pcall(function() return yield('in pcall') end)
      log[#log + 1] = tostring(ok) .. ' ' .. got
      return nil, true
    end, { predicate = function() return yield('in predicate') end })
    m:subscribe('a', logger(log, 'next'))
    local resume = start(function() m:publish('a') return 'done' end)
    assert.are.equal('in pcall', resume(true))
    assert.are.equal('done', resume('resumed'))
    assert.are.same({ 'true resumed', 'next' }, log)
  end)

  it('may be inside a nested publish, which resumes with the outer one', function()
    m:subscribe('inner', function(x)
      log[#log + 1] = 'inner ' .. yield('inner waits')
      return 'inner ' .. x, true
    end)
    m:subscribe('inner', logger(log, 'inner next', 'i2'))
    m:subscribe('outer', function(x)
      log[#log + 1] = 'outer'
      local got = m:publish('inner', x)
      log[#log + 1] = 'outer got ' .. table.concat(got, ',')
      return 'outer', true
    end)
    m:subscribe('outer', logger(log, 'outer next', 'o2'))
    local results
    local resume = start(function() results = m:publish('outer', 'x') return 'done' end)
    assert.are.same({ 'outer' }, log)
    assert.are.equal('done', resume('!'))
    assert.are.same({ 'outer', 'inner !', 'inner next', 'outer got inner x,i2', 'outer next' }, log)
    assert.are.same({ 'outer', 'o2' }, results)
  end)

  it('skips subscribers removed and ignores those added while it waited', function()
    local removed, moved
    m:subscribe('a:b', function()
      log[#log + 1] = 'waits'
      yield()
      return nil, true
    end)
    removed = m:subscribe('a:b', logger(log, 'removed'))
    m:subscribe('a:b', logger(log, 'kept'))
    m:subscribe('a', logger(log, 'a1'))
    moved = m:subscribe('a', logger(log, 'a2'))
    local resume = start(function() m:publish('a:b') return 'done' end)
    -- Meanwhile, elsewhere: a removal, additions, a move and another publish.
    m:removeSubscriber(removed.id)
    m:subscribe('a:b', logger(log, 'added on a:b'))
    m:subscribe('a', logger(log, 'added on a'), { priority = 1 })
    m:getChannel('a'):setPriority(moved.id, 1)
    m:publish('a')
    assert.are.same({ 'waits', 'a2', 'added on a', 'a1' }, log)
    assert.are.equal('done', resume())
    -- "a" is reached after the move: its new order applies.
    assert.are.same({ 'waits', 'a2', 'added on a', 'a1', 'kept', 'a2', 'a1' }, log)
  end)

  it('keeps each coroutine its own results for lusty.host.results()', function()
    m:subscribe('a', function(tag)
      local results = host.results()
      results[#results + 1] = tag .. ' first'
      yield()
      assert.are.equal(results, host.results())
      return tag .. ' second', true
    end)
    m:subscribe('a', function(tag)
      local results = host.results()
      results[#results + 1] = tag .. ' third'
      return nil, true
    end)
    local one, two
    local resumeOne = start(function() one = m:publish('a', 'one') end)
    local resumeTwo = start(function() two = m:publish('a', 'two') end)
    resumeOne()
    resumeTwo()
    assert.are.same({ 'one first', 'one second', 'one third' }, one)
    assert.are.same({ 'two first', 'two second', 'two third' }, two)
    assert.is_nil(host.results())
  end)

  it('does not keep a removed subscriber alive once the waiting publish is dropped', function()
    local weak = setmetatable({}, { __mode = 'v' })
    m:subscribe('a:b', function() yield() return nil, true end)
    weak.sub = m:subscribe('a:b', function() return nil, true end)
    local resume, co = start(function() m:publish('a:b:c') end)
    -- The waiting publish's plan is now the only thing that knows it.
    m:removeSubscriber(weak.sub.id)
    collectgarbage()
    collectgarbage()
    assert.is_table(weak.sub)
    assert.are.equal('suspended', coroutine.status(co))
    resume, co = nil, nil
    collectgarbage()
    collectgarbage()
    assert.is_nil(weak.sub)
  end)

  it('passes a subscriber error up through the coroutine, as raised', function()
    local boom = { 'boom' }
    m:subscribe('a', function() yield() error(boom) end)
    local co = coroutine.create(function() return m:publish('a') end)
    assert.is_true(coroutine.resume(co))
    local ok, err = coroutine.resume(co)
    assert.is_false(ok)
    assert.are.equal(boom, err)
  end)
end)
