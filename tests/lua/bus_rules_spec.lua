-- The rules of docs/bus.md, table-driven where they are tables: channel
-- paths, bubbling, stop and continue, results, predicates, priorities,
-- lookup and removal by id, unknown paths, re-entrancy and errors.
local Mediator = require 'mediator'

-- Subscribes a recorder of `name` on `channel`: it logs its name, returns
-- `value` and goes on unless `stop`.
local function recorder(m, log, channel, name, options, value, stop)
  return m:subscribe(channel, function()
    log[#log + 1] = name
    return value, not stop
  end, options)
end

local function run(m, log, channel, ...)
  for i = #log, 1, -1 do log[i] = nil end
  m:publish(channel, ...)
  return table.concat(log, ' ')
end

-- The names of a channel's subscribers in order, read from `callbacks`.
local function order(ch, log)
  local out = {}
  for i, sub in ipairs(ch.callbacks) do
    local before = #log
    sub.fn()
    out[i] = log[before + 1]
    log[before + 1] = nil
  end
  return table.concat(out, ' ')
end

-- The path of a channel object from its namespaces.
local function path(ch)
  local out = {}
  while ch.parent do
    table.insert(out, 1, ch.namespace)
    ch = ch.parent
  end
  return table.concat(out, ':')
end

describe('bus channels', function()
  it('are the same for the string and array forms', function()
    local rows = {
      { '', {}, '' },
      { 'a', { 'a' }, 'a' },
      { 'a:b:c', { 'a', 'b', 'c' }, 'a:b:c' },
      { 'data:request:user:get', { 'data', 'request', 'user', 'get' }, 'data:request:user:get' },
      { 'a::b:', { 'a', 'b' }, 'a:b' }, -- empty names are skipped
      { ':x', { 'x' }, 'x' },
      { 'n:1', { 'n', 1 }, 'n:1' }, -- numbers are names
    }
    local m = Mediator()
    for _, row in ipairs(rows) do
      local ch = m:getChannel(row[1])
      assert.are.equal(ch, m:getChannel(row[2]))
      assert.are.equal(row[3], path(ch))
    end
    assert.are.equal(m.channel, m:getChannel())
    -- In the array form each element is one name, colons included.
    local ab = m:getChannel({ 'a:b' })
    assert.are_not.equal(ab, m:getChannel('a:b'))
    assert.are.equal('a:b', ab.namespace)
    assert.are.equal(m.channel, ab.parent)
  end)

  it('are made by getChannel and subscribe, never by lookups or publishes', function()
    local m = Mediator()
    local function count(ch)
      local n = 1
      for _, c in pairs(ch.channels) do n = n + count(c) end
      return n
    end
    m:getChannel('a:b')
    assert.are.equal(3, count(m.channel))
    assert.is_nil(m:getSubscriber(1, 'x:y'))
    assert.is_nil(m:removeSubscriber(1, 'a:b:c'))
    m:publish('a:b:c:d')
    m:publish({ 'x', 'y' })
    assert.is_falsy(m.channel:getChannel('a'):hasChannel('c'))
    assert.are.equal(3, count(m.channel))
    m:subscribe('a:b:c', function() end)
    assert.are.equal(4, count(m.channel))
  end)

  it('refuse what is not a channel, and calls without a mediator', function()
    local m = Mediator()
    local deep = {}
    for i = 1, 100 do deep[i] = 'p' .. i end
    m:subscribe(deep, function() return 'deep' end)
    assert.are.same({ 'deep' }, m:publish(deep))
    assert.has_error(function() m:publish(42) end)
    assert.has_error(function() m:publish({ {} }) end)
    assert.has_error(function() m:publish({ 'nowhere', true }) end)
    assert.has_error(function() m:subscribe('a') end)
    assert.has_error(function() m.publish({}, 'a') end)
    assert.has_error(function() m.channel.publish({}, {}) end)
  end)
end)

describe('bus publish', function()
  it('bubbles from the channel up to the root', function()
    local m, log = Mediator(), {}
    recorder(m, log, nil, 'root')
    recorder(m, log, 'a', 'a')
    recorder(m, log, 'a:b', 'ab')
    recorder(m, log, 'a:b:c', 'c1')
    recorder(m, log, 'a:b:c', 'c2')
    recorder(m, log, 'a:x', 'other')
    local rows = {
      { 'a:b:c', 'c1 c2 ab a root' }, { 'a:b', 'ab a root' }, { 'a', 'a root' },
      { '', 'root' }, { 'a:x', 'other a root' }, { 'b', 'root' },
      { { 'a', 'b', 'c' }, 'c1 c2 ab a root' }, { 'a:b:c:d:e', 'c1 c2 ab a root' },
    }
    for _, row in ipairs(rows) do assert.are.equal(row[2], run(m, log, row[1])) end
    for i = #log, 1, -1 do log[i] = nil end
    m:getChannel('a:b'):publish({})
    assert.are.equal('ab a root', table.concat(log, ' '))
  end)

  it('stops at the first subscriber that does not go on', function()
    local rows = {
      { false, false, false, 'x y z' }, { true, false, false, 'x' },
      { false, true, false, 'x y' }, { false, false, true, 'x y z' },
      { true, true, true, 'x' },
    }
    for _, row in ipairs(rows) do
      local m, log = Mediator(), {}
      recorder(m, log, 'a:b', 'x', nil, nil, row[1])
      recorder(m, log, 'a:b', 'y', nil, nil, row[2])
      recorder(m, log, 'a', 'z', nil, nil, row[3])
      assert.are.equal(row[4], run(m, log, 'a:b'))
    end
    -- A subscriber that returns nothing stops the publish.
    local m, log = Mediator(), {}
    m:subscribe('a', function() log[#log + 1] = 'quiet' end)
    recorder(m, log, 'a', 'never')
    assert.are.equal('quiet', run(m, log, 'a'))
  end)

  it('collects values in order, and channel:publish appends to a table', function()
    local m, log = Mediator(), {}
    recorder(m, log, 'a:b', 'x', nil, 'x')
    recorder(m, log, 'a:b', 'quiet')
    recorder(m, log, 'a:b', 'y', nil, 'y')
    recorder(m, log, 'a', 'z', nil, 'z', true)
    recorder(m, log, nil, 'never', nil, 'never')
    assert.are.same({ 'x', 'y', 'z' }, m:publish('a:b'))
    local out = { 'mine' }
    assert.are.equal(out, m:getChannel('a'):publish(out))
    assert.are.same({ 'mine', 'z' }, out)
    assert.are.same({}, Mediator():publish('q:x'))
  end)

  it('runs a predicate first: false skips its subscriber, an error aborts', function()
    local m, log = Mediator(), {}
    local answer = false
    recorder(m, log, 'p', 'yes', { predicate = function() return true end })
    recorder(m, log, 'p', 'no', {
      predicate = function()
        if answer == 'fail' then error('predicate says no') end
        return answer
      end,
    }, nil, true)
    recorder(m, log, 'p', 'last')
    assert.are.equal('yes last', run(m, log, 'p'))
    answer = 'fail'
    for i = #log, 1, -1 do log[i] = nil end
    local ok, err = pcall(m.publish, m, 'p')
    assert.is_false(ok)
    assert.matches('predicate says no', err)
    assert.are.equal('yes', table.concat(log, ' '))
  end)

  it('reports a subscriber or predicate that cannot be called', function()
    local m = Mediator()
    m:subscribe('a', 42)
    assert.has_error(function() m:publish('a') end, 'attempt to call a number value')
    local callable = setmetatable({}, { __call = function(_, x) return x * 2 end })
    m = Mediator()
    m:subscribe('a', callable, { predicate = callable })
    assert.are.same({ 42 }, m:publish('a', 21))
  end)
end)

describe('bus priorities', function()
  it('insert a subscriber at a position between 1 and the count, else last', function()
    local rows = {
      { { nil, nil, nil }, 's1 s2 s3' },
      { { nil, nil, 1 }, 's3 s1 s2' },
      { { nil, nil, 2 }, 's1 s3 s2' },
      { { nil, nil, 3 }, 's1 s2 s3' }, -- 3 > count 2: last
      { { nil, nil, -1 }, 's1 s2 s3' },
      { { 1, 1, 1 }, 's3 s2 s1' }, -- the first one: 1 > count 0, last
      { { nil, nil, nil, 2 }, 's1 s4 s2 s3' },
      { { nil, nil, nil, 4 }, 's1 s2 s3 s4' },
      { { nil, nil, 1.7 }, 's3 s1 s2' },
    }
    for _, row in ipairs(rows) do
      local m, log = Mediator(), {}
      for k = 1, table.maxn(row[1]) > 3 and 4 or 3 do
        recorder(m, log, 'ch', 's' .. k, { priority = row[1][k] })
      end
      assert.are.equal(row[2], order(m:getChannel('ch'), log))
      assert.are.equal(row[2], run(m, log, 'ch'))
    end
  end)

  it('move a subscriber within its own channel, found from an ancestor, clamped', function()
    local rows = {
      { 4, 1, 's4 s1 s2 s3' }, { 1, 4, 's2 s3 s4 s1' }, { 1, 2, 's2 s1 s3 s4' },
      { 3, 2, 's1 s3 s2 s4' }, { 2, 2, 's1 s2 s3 s4' }, { 2, 0, 's2 s1 s3 s4' },
      { 3, -5, 's3 s1 s2 s4' }, { 1, 99, 's2 s3 s4 s1' },
    }
    for _, row in ipairs(rows) do
      local m, log, subs = Mediator(), {}, {}
      for k = 1, 4 do subs[k] = recorder(m, log, 'a:ch', 's' .. k) end
      m.channel:setPriority(subs[row[1]].id, row[2])
      assert.are.equal(row[3], order(m:getChannel('a:ch'), log))
      assert.are.equal(row[3], run(m, log, 'a:ch'))
      m.channel:setPriority(999, 1) -- no such id: nothing happens
      assert.are.equal(row[3], run(m, log, 'a:ch'))
    end
  end)
end)

describe('bus lookup and removal by id', function()
  it('search the channel and the channels below it', function()
    local m, log = Mediator(), {}
    local s = {
      recorder(m, log, 'a', 'a'), recorder(m, log, 'a:b', 'b1'), recorder(m, log, 'a:b', 'b2'),
      recorder(m, log, 'a:b:c', 'c'), recorder(m, log, 'x', 'x'),
    }
    for i = 2, #s do assert.is_true(s[i].id > s[i - 1].id) end
    local rows = {
      { nil, 4, 'a:b:c', 1 }, { 'a', 4, 'a:b:c', 1 }, { 'a:b', 3, 'a:b', 2 },
      { 'a:b:c', 4, 'a:b:c', 1 }, { 'a:b:c', 1 }, { 'x', 2 }, { '', 5, 'x', 1 },
      { 'nope', 1 }, { { 'a' }, 3, 'a:b', 2 },
    }
    for _, row in ipairs(rows) do
      local found = m:getSubscriber(s[row[2]].id, row[1])
      if row[3] then
        assert.are.equal(s[row[2]], found.value)
        assert.are.equal(row[4], found.index)
        assert.are.equal(row[3], path(found.value.channel))
      else
        assert.is_nil(found)
      end
    end
    assert.is_nil(m:getSubscriber(12345, 'a'))
  end)

  it('remove from below only, never reuse an id', function()
    local m, log = Mediator(), {}
    local a = recorder(m, log, 'a', 'a')
    local b = recorder(m, log, 'a:b', 'b')
    local c = recorder(m, log, 'a:b:c', 'c')
    recorder(m, log, 'x', 'x')
    assert.is_nil(m:removeSubscriber(c.id, 'x')) -- a sibling
    assert.is_nil(m:removeSubscriber(b.id, 'a:b:c')) -- a child
    assert.are.equal(c, m:removeSubscriber(c.id)) -- from the root
    assert.is_nil(m:removeSubscriber(c.id))
    assert.are.equal(b, m:removeSubscriber(b.id, { 'a' }))
    assert.are.equal(a, m:getChannel('a'):removeSubscriber(a.id))
    assert.are.equal('', run(m, log, 'a:b:c'))
    local again = recorder(m, log, 'a:b:c', 'c')
    assert.is_true(again.id > c.id)
    assert.are.equal('c', run(m, log, 'a:b:c'))
  end)
end)

describe('bus memory', function()
  it('stays flat however many distinct channels are published on', function()
    local m = Mediator()
    m:subscribe('req', function(c) c.n = c.n + 1 return nil, true end)
    local c = { n = 0 }
    local function burst(from, n)
      for i = from, from + n - 1 do
        m:publish({ 'req', 'p' .. i }, c)
        m:publish('req:q' .. i .. ':x', c)
        m:publishSuffixed({ 'req' }, { 'r' .. i }, c)
      end
    end
    burst(1, 2000)
    collectgarbage()
    collectgarbage()
    local before = collectgarbage('count')
    burst(2001, 340000) -- over a million distinct channels in all
    collectgarbage()
    collectgarbage()
    assert.are.equal(3 * 342000, c.n)
    local grown = collectgarbage('count') - before
    assert.is_true(grown < 256, ('grew by %.0f KiB'):format(grown))
    assert.is_nil(next(m:getChannel('req').channels))
  end)

  it('is collected with a mediator nobody references', function()
    collectgarbage()
    collectgarbage()
    local before = collectgarbage('count')
    for i = 1, 2000 do
      local m = Mediator()
      m:subscribe('a:b', function() return i end)
      assert.are.equal(i, m:publish('a:b:c')[1])
    end
    collectgarbage()
    collectgarbage()
    assert.is_true(collectgarbage('count') < before + 200, collectgarbage('count') - before)
  end)
end)

describe('bus re-entrancy', function()
  it('a subscriber removed during a publish is skipped, lookups miss it at once', function()
    local m, log = Mediator(), {}
    local x, z, seen
    x = m:subscribe('a', function()
      log[#log + 1] = 'x'
      m:removeSubscriber(x.id)
      m:removeSubscriber(z.id)
      return nil, true
    end)
    m:subscribe('a', function()
      log[#log + 1] = 'y'
      seen = m:getSubscriber(x.id)
      return nil, true
    end)
    z = recorder(m, log, 'a', 'z')
    recorder(m, log, nil, 'parent')
    assert.are.equal('x y parent', run(m, log, 'a'))
    assert.is_nil(seen)
    assert.are.equal(1, #m:getChannel('a').callbacks)
    assert.are.equal('y parent', run(m, log, 'a'))
  end)

  it('a subscriber added during a publish is not run by it, on any channel', function()
    local m, log = Mediator(), {}
    local once = false
    m:subscribe('a:b', function()
      log[#log + 1] = 'x'
      if not once then
        once = true
        recorder(m, log, 'a:b', 'first', { priority = 1 })
        recorder(m, log, 'a:b', 'last')
        recorder(m, log, 'a', 'up')
        recorder(m, log, 'a:b:new', 'new')
      end
      return nil, true
    end)
    recorder(m, log, 'a:b', 'y')
    recorder(m, log, 'a', 'a')
    assert.are.equal('x y a', run(m, log, 'a:b'))
    assert.are.equal('first x y last a up', run(m, log, 'a:b'))
    assert.are.equal('new first x y last a up', run(m, log, 'a:b:new'))
  end)

  it('a priority change keeps the order of the channel being run', function()
    local m, log = Mediator(), {}
    local once, x, z = false, nil, nil
    x = m:subscribe('a', function()
      log[#log + 1] = 'x'
      if not once then
        once = true
        m.channel:setPriority(z.id, 1)
        m.channel:setPriority(x.id, 3)
      end
      return nil, true
    end)
    recorder(m, log, 'a', 'y')
    z = recorder(m, log, 'a', 'z')
    assert.are.equal('x y z', run(m, log, 'a'))
    assert.are.equal(1, m:getSubscriber(z.id, 'a').index)
    assert.are.equal('z y x', run(m, log, 'a'))
  end)

  it('a nested publish sees what was added before it started', function()
    local m, log = Mediator(), {}
    local outer, inner
    outer = m:subscribe('a', function()
      log[#log + 1] = 'outer'
      recorder(m, log, 'b', 'fresh', nil, 'fresh')
      inner = m:publish('b')
      return 'outer', true
    end)
    recorder(m, log, 'a', 'after')
    m:subscribe('b', function()
      log[#log + 1] = 'killer'
      m:removeSubscriber(outer.id)
      return 'inner', true
    end)
    assert.are.same({ 'outer' }, m:publish('a'))
    assert.are.equal('outer killer fresh after', table.concat(log, ' '))
    assert.are.same({ 'inner', 'fresh' }, inner)
    assert.are.equal(1, #m:getChannel('a').callbacks)
  end)

  it('a change while running from a plan: the rest follows the rules', function()
    local m, log = Mediator(), {}
    local armed, b2, z = false, nil, nil
    m:subscribe('a:b', function()
      log[#log + 1] = 'x'
      if armed then
        armed = false
        m.channel:setPriority(z.id, 1)
        m:removeSubscriber(b2.id)
      end
      return nil, true
    end)
    b2 = recorder(m, log, 'a:b', 'b2')
    recorder(m, log, 'a', 'y')
    z = recorder(m, log, 'a', 'z')
    assert.are.equal('x b2 y z', run(m, log, 'a:b'))
    armed = true
    assert.are.equal('x z y', run(m, log, 'a:b'))
    assert.are.equal('x z y', run(m, log, 'a:b'))
  end)

  it('a nested publish that rebuilds the plan the outer one walks', function()
    local m, log = Mediator(), {}
    local armed = false
    m:subscribe('a', function()
      log[#log + 1] = 'x'
      if armed then
        armed = false
        recorder(m, log, 'a', 'fresh')
        log[#log + 1] = '['
        m:publish('a:b')
        log[#log + 1] = ']'
      end
      return nil, true
    end)
    recorder(m, log, 'a', 'y')
    recorder(m, log, nil, 'root')
    assert.are.equal('x y root', run(m, log, 'a:b'))
    armed = true
    assert.are.equal('x [ x y fresh root ] y root', run(m, log, 'a:b'))
    assert.are.equal('x y fresh root', run(m, log, 'a:b'))
  end)
end)

describe('bus errors', function()
  it('reach the publisher as raised, through nested publishes', function()
    local m, log = Mediator(), {}
    local boom = { code = 42 }
    m:subscribe('inner', function() error(boom) end)
    m:subscribe('outer', function()
      log[#log + 1] = 'outer'
      m:publish('inner')
      log[#log + 1] = 'never'
    end)
    recorder(m, log, 'outer', 'never either')
    local ok, err = pcall(m.publish, m, 'outer')
    assert.is_false(ok)
    assert.are.equal(boom, err)
    assert.are.equal('outer', table.concat(log, ' '))
    -- The bus is fine afterwards.
    assert.are.equal('', run(m, log, 'nothing'))
  end)
end)
