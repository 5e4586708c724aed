-- The Lua publish loop (runtime/lua/mediator/publish.lua): mediator:publish
-- runs the subscribers from a cached plan in Lua. These specs check that
-- plans follow every change, re-entrancy follows the bus rules, errors and
-- lusty.host.results() stay right.
local Mediator = require 'mediator'
local host = require 'lusty.host'

local function logger(log, name, ret)
  return function() log[#log + 1] = name return ret, true end
end

describe('the Lua publish loop', function()
  local m, log
  before_each(function()
    m = Mediator()
    log = {}
  end)

  it('is what mediator:publish runs', function()
    assert.are.equal('Lua', debug.getinfo(m.publish, 'S').what)
  end)

  it('follows subscribes, removals and priority changes between publishes', function()
    m:subscribe('a:b', logger(log, 'b'))
    local a = m:subscribe('a', logger(log, 'a'))
    m:publish('a:b:c')
    local a0 = m:subscribe('a', logger(log, 'a0'), { priority = 1 })
    m:publish({ 'a', 'b', 'c' })
    m:getChannel('a'):setPriority(a0.id, 2)
    m:publish('a:b')
    m:removeSubscriber(a.id)
    m:publish('a:b')
    assert.are.same({ 'b', 'a', 'b', 'a0', 'a', 'b', 'a', 'a0', 'b', 'a0' }, log)
  end)

  it('reads fn and options.predicate at each call', function()
    local sub = m:subscribe('a', function() return 1, true end)
    assert.are.same({ 1 }, m:publish('a'))
    sub.fn = function() return 2, true end
    assert.are.same({ 2 }, m:publish('a'))
    sub.options.predicate = function() return false end
    assert.are.same({}, m:publish('a'))
    sub:update({ options = {} })
    assert.are.same({ 2 }, m:publish('a'))
  end)

  it('passes exactly the published values, trailing nils included', function()
    local counts = {}
    m:subscribe('a', function(...) counts[#counts + 1] = select('#', ...) return nil, true end)
    m:publish('a')
    m:publish('a', 1)
    m:publish('a', 1, nil)
    m:publish('a', nil, nil, 3)
    assert.are.same({ 0, 1, 2, 3 }, counts)
  end)

  it('takes number parts, the root and unusual channels as the C publish does', function()
    m:subscribe({ 'a', 1 }, function() return 'one', true end)
    m:subscribe(nil, function() return 'root', true end)
    assert.are.same({ 'one', 'root' }, m:publish({ 'a', 1, 'x' }))
    assert.are.same({ 'one', 'root' }, m:publish('a:1'))
    assert.are.same({ 'root' }, m:publish())
    assert.has_error(function() m:publish(true) end)
    assert.has_error(function() m.publish({}, 'a') end)
  end)

  it('reports calling a subscriber that is not a function as the C publish did', function()
    local sub = m:subscribe('a', function() end)
    sub.fn = nil
    local ok, err = pcall(m.publish, m, 'a')
    assert.is_false(ok)
    assert.are.equal('attempt to call a nil value', err)
  end)

  it('does not run a subscriber added during the publish, on its channel or above', function()
    m:subscribe('a:b', function()
      log[#log + 1] = 'x'
      if #log == 1 then
        m:subscribe('a:b', logger(log, 'new-b'))
        m:subscribe('a', logger(log, 'new-a'), { priority = 1 })
        -- A publish that starts now sees them.
        m:publish('a')
      end
      return nil, true
    end)
    m:subscribe('a', logger(log, 'a'))
    m:publish('a:b')
    assert.are.same({ 'x', 'new-a', 'a', 'a' }, log)
  end)

  it('skips a subscriber removed during the publish at once', function()
    local later, above
    m:subscribe('a:b', function()
      log[#log + 1] = 'x'
      m:removeSubscriber(later.id)
      m:removeSubscriber(above.id)
      return nil, true
    end)
    later = m:subscribe('a:b', logger(log, 'later'))
    above = m:subscribe('a', logger(log, 'above'))
    m:subscribe('a', logger(log, 'a'))
    m:publish('a:b')
    assert.are.same({ 'x', 'a' }, log)
  end)

  it('keeps the order of a channel it is running, applies a move above', function()
    local y, z, p
    m:subscribe('a:b', function()
      log[#log + 1] = 'x'
      if not p then
        p = true
        m:getChannel('a:b'):setPriority(z.id, 1)
        m:getChannel('a'):setPriority(y.id, 2)
      end
      return nil, true
    end)
    z = m:subscribe('a:b', logger(log, 'z'))
    m:subscribe('a', logger(log, 'w'))
    y = m:subscribe('a', logger(log, 'y'), { priority = 1 })
    m:publish('a:b')
    m:publish('a:b')
    assert.are.same({ 'x', 'z', 'w', 'y', 'z', 'x', 'w', 'y' }, log)
  end)

  it('re-raises the very error value and leaves no publish marked in flight', function()
    local boom = { 'boom' }
    m:subscribe('a', function() error(boom) end)
    assert.is_nil(host.results())
    local ok, err = pcall(m.publish, m, 'a')
    assert.is_false(ok)
    assert.are.equal(boom, err)
    assert.is_nil(host.results())
  end)

  it('gives lusty.host.results() the innermost publish, also after a caught error', function()
    m:subscribe('inner', function() error('inner failed') end)
    m:subscribe('outer', function()
      local results = host.results()
      assert.is_false(pcall(m.publish, m, 'inner'))
      assert.are.equal(results, host.results())
      results[#results + 1] = 'pushed'
      return 'returned', true
    end)
    assert.are.same({ 'pushed', 'returned' }, m:publish('outer'))
    assert.is_nil(host.results())
  end)

  it('finds channels seen before without growing per distinct channel', function()
    m:subscribe('request', function(ctx) return ctx, true end)
    m:subscribe('request:users', function() return 'users', true end)
    -- A cached name follows a change of the bus like a plan does.
    assert.are.same({ 'users', 1 }, m:publish({ 'request', 'users', '1' }, 1))
    local sub = m:subscribe('request:users:1', function() return 'one', true end)
    assert.are.same({ 'one', 'users', 1 }, m:publish({ 'request', 'users', '1' }, 1))
    m:removeSubscriber(sub.id)
    assert.are.same({ 'users', 1 }, m:publish({ 'request', 'users', '1' }, 1))
    -- Many distinct channels (as many URLs): memory stays bounded.
    local function run(from, n)
      for i = from, from + n - 1 do
        m:publish({ 'request', 'users', tostring(i) }, i)
        m:publish('request:other:' .. i, i)
      end
    end
    run(1, 5000)
    collectgarbage()
    collectgarbage()
    local before = collectgarbage('count')
    run(5001, 50000)
    collectgarbage()
    collectgarbage()
    local grown = collectgarbage('count') - before
    assert.is_true(grown < 512, ('grew by %.0f KiB'):format(grown))
  end)

  it('keeps every mediator to its own bus', function()
    local other = Mediator()
    m:subscribe('a', function() return 'm', true end)
    other:subscribe('a', function() return 'other', true end)
    assert.are.same({ 'm' }, m:publish('a'))
    assert.are.same({ 'other' }, other:publish('a'))
  end)
end)
