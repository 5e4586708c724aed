-- Contract sections 1 and 5: the bus as Lua sees it through `mediator`.
local Mediator = require 'mediator'

local function names(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = tostring(v) end
  return table.concat(out, ' ')
end

-- Counts the channels of the tree under `ch` (itself included).
local function count(ch)
  local n = 1
  for _, child in pairs(ch.channels) do n = n + count(child) end
  return n
end

describe('mediator channels', function()
  local m
  before_each(function() m = Mediator() end)

  it('accepts a string or an array wherever a channel is taken', function()
    local a = m:subscribe('a:b', function() return 'string', true end)
    local b = m:subscribe({ 'a', 'b' }, function() return 'array', true end)
    assert.are.equal(a.channel, b.channel)
    assert.are.equal('string array', names(m:publish({ 'a', 'b' })))
    assert.are.equal('string array', names(m:publish('a:b')))
    assert.are.equal(m:getChannel('a:b'), m:getChannel({ 'a', 'b' }))
    assert.are.equal(2, m:getSubscriber(b.id, 'a').index)
    assert.is_table(m:removeSubscriber(a.id, { 'a' }))
  end)

  it('forms a tree under an unnamed root with namespace and parent', function()
    local ch = m:getChannel('x:y:z')
    assert.are.equal('z', ch.namespace)
    assert.are.equal('y', ch.parent.namespace)
    assert.are.equal(m.channel, ch.parent.parent.parent)
    assert.is_nil(m.channel.parent)
    assert.are.equal(ch, m.channel.channels.x.channels.y.channels.z)
  end)

  it('publishing on an unknown channel is no error and leaves nothing behind', function()
    local got = {}
    m:subscribe('request', function(ctx) got[#got + 1] = ctx; return nil, true end)
    local before = count(m.channel)
    for i = 1, 1000 do
      assert.are.same({}, m:publish({ 'request', 'users', tostring(i) }, i))
      m:publish('nobody:listens:' .. i)
    end
    assert.are.equal(1000, #got)
    assert.are.equal(before, count(m.channel))
  end)

  it('getChannel creates the channel it is asked for', function()
    local before = count(m.channel)
    m:getChannel('made:here')
    assert.are.equal(before + 2, count(m.channel))
  end)
end)

describe('mediator subscribers', function()
  local m
  before_each(function() m = Mediator() end)

  it('have an id, fn, options, channel and update', function()
    local fn = function() end
    local opts = { priority = 1 }
    local s = m:subscribe('a', fn, opts)
    assert.is_number(s.id)
    assert.are.equal(fn, s.fn)
    assert.are.equal(opts, s.options)
    assert.are.equal(m:getChannel('a'), s.channel)
    local s2 = m:subscribe('a', fn)
    assert.are_not.equal(s.id, s2.id)
    assert.are.same({}, s2.options)
    local fn2 = function() return 'new' end
    s2:update({ fn = fn2 })
    assert.are.equal(fn2, s2.fn)
  end)

  it('keep ids unique and stable', function()
    local ids = {}
    for i = 1, 50 do ids[m:subscribe('c' .. (i % 5), function() end).id] = true end
    local n = 0
    for _ in pairs(ids) do n = n + 1 end
    assert.are.equal(50, n)
  end)

  it('go last unless a priority between 1 and the count is given', function()
    local function sub(name, priority)
      return m:subscribe('p', function() return name, true end, { priority = priority })
    end
    sub('a'); sub('b'); sub('c', 1); sub('d', 2); sub('e', 99); sub('f', 0)
    assert.are.equal('c d a b e f', names(m:publish('p')))
    local ch = m:getChannel('p')
    assert.are.equal(6, #ch.callbacks)
    assert.are.equal('c', ch.callbacks[1].fn())
  end)

  it('can be moved with setPriority', function()
    local s = {}
    for _, n in ipairs({ 'a', 'b', 'c' }) do
      s[n] = m:subscribe('p', function() return n, true end)
    end
    local ch = m:getChannel('p')
    ch:setPriority(s.c.id, 1)
    assert.are.equal('c a b', names(m:publish('p')))
    ch:setPriority(s.c.id, 3)
    assert.are.equal('a b c', names(m:publish('p')))
  end)

  it('are skipped when their predicate returns false', function()
    m:subscribe('p', function(x) return 'even ' .. x, true end,
      { predicate = function(x) return x % 2 == 0 end })
    m:subscribe('p', function(x) return 'all ' .. x, true end)
    assert.are.same({ 'all 1' }, m:publish('p', 1))
    assert.are.same({ 'even 2', 'all 2' }, m:publish('p', 2))
  end)

  it('receive every published argument, predicates too', function()
    local seen
    m:subscribe('p', function(a, b, c) seen = { a, b, c }; return nil, true end,
      { predicate = function(a, b, c) return c == 3 end })
    m:publish('p', 1, 2, 3)
    assert.are.same({ 1, 2, 3 }, seen)
  end)
end)

describe('mediator publish', function()
  local m, log
  before_each(function()
    m = Mediator()
    log = {}
  end)

  local function rec(name, value, continue)
    return function()
      log[#log + 1] = name
      return value, continue
    end
  end

  it('runs the channel, then its parent, up to the root', function()
    m:subscribe('data:store:user', rec('user', 1, true))
    m:subscribe('data:store', rec('store', 2, true))
    m:subscribe('data', rec('data', 3, true))
    m:subscribe({}, rec('root', 4, true))
    assert.are.same({ 1, 2, 3, 4 }, m:publish('data:store:user:42'))
    assert.are.equal('user store data root', table.concat(log, ' '))
  end)

  it('stops at a subscriber that does not continue (the default)', function()
    m:subscribe('a:b', rec('b1', 'v1', true))
    m:subscribe('a:b', rec('b2'))
    m:subscribe('a:b', rec('b3', 'v3', true))
    m:subscribe('a', rec('a', 'va', true))
    assert.are.same({ 'v1' }, m:publish('a:b'))
    assert.are.equal('b1 b2', table.concat(log, ' '))
  end)

  it('collects non-nil values and returns an array', function()
    m:subscribe('a', rec('x', nil, true))
    m:subscribe('a', rec('y', false, true))
    m:subscribe('a', rec('z', 0, true))
    assert.are.same({ false, 0 }, m:publish('a'))
    assert.are.same({}, m:publish('nothing'))
  end)

  it('propagates a subscriber error to the publisher, as raised', function()
    m:subscribe('a', rec('first', 1, true))
    m:subscribe('a', function() error({ code = 42 }) end)
    m:subscribe('a', rec('never'))
    local ok, err = pcall(m.publish, m, 'a')
    assert.is_false(ok)
    assert.are.equal(42, err.code)
    assert.are.equal('first', table.concat(log, ' '))
    ok, err = pcall(m.publish, m, 'b')
    m:subscribe('b', function() error('plain') end)
    ok, err = pcall(m.publish, m, 'b')
    assert.matches('mediator_spec.lua:%d+: plain', err)
  end)

  it('lets a channel publish into a result table of the caller', function()
    local ch = m:getChannel('a:b')
    m:subscribe('a', rec('a', 'from a', true))
    local out = { 'kept' }
    assert.are.equal(out, ch:publish(out))
    assert.are.same({ 'kept', 'from a' }, out)
  end)
end)

describe('mediator lookup and removal by id', function()
  it('finds and removes from any ancestor, searching sub-channels', function()
    local m = Mediator()
    local s = m:subscribe('a:b:c', function() return 'c', true end)
    m:subscribe('a:b:c', function() return 'c2', true end)
    local found = m:getSubscriber(s.id, 'a')
    assert.are.equal(1, found.index)
    assert.are.equal(s, found.value)
    assert.are.equal(s, m:getSubscriber(s.id).value)
    assert.is_nil(m:getSubscriber(s.id, 'other'))
    assert.are.equal(s, m:removeSubscriber(s.id, 'a'))
    assert.is_nil(m:getSubscriber(s.id))
    assert.are.same({ 'c2' }, m:publish('a:b:c'))
    assert.is_nil(m:removeSubscriber(s.id))
  end)

  it('works through channel objects too', function()
    local m = Mediator()
    local root = m.channel
    local s = root:getChannel('x'):getChannel('y'):addSubscriber(function() return 1 end)
    assert.are.equal(s, root:getSubscriber(s.id).value)
    assert.are.equal(s, root:removeSubscriber(s.id))
    assert.are.equal(0, #root.channels.x.channels.y.callbacks)
  end)
end)

describe('mediator re-entrancy', function()
  it('a subscriber added during a publish does not see it, later ones do', function()
    local m, log = Mediator(), {}
    m:subscribe('a', function()
      log[#log + 1] = 'first'
      m:subscribe('a', function() log[#log + 1] = 'added'; return nil, true end)
      return nil, true
    end)
    m:publish('a')
    assert.are.equal('first', table.concat(log, ' '))
    m:publish('a')
    assert.are.equal('first first added', table.concat(log, ' '))
  end)

  it('a subscriber removed during a publish is skipped at once', function()
    local m, log = Mediator(), {}
    local victim
    m:subscribe('a', function()
      log[#log + 1] = 'remover'
      m:removeSubscriber(victim.id)
      return nil, true
    end)
    victim = m:subscribe('a', function() log[#log + 1] = 'victim'; return nil, true end)
    m:publish('a')
    assert.are.equal('remover', table.concat(log, ' '))
  end)

  it('a subscriber may remove itself and publish again', function()
    local m, log = Mediator(), {}
    local self
    self = m:subscribe('a', function(depth)
      log[#log + 1] = 'run' .. depth
      if depth < 3 then m:publish('a', depth + 1) end
      m:removeSubscriber(self.id)
      return depth, true
    end)
    assert.are.same({ 1 }, m:publish('a', 1))
    assert.are.equal('run1 run2 run3', table.concat(log, ' '))
    assert.are.same({}, m:publish('a', 1))
  end)
end)

describe('Mediator.Channel', function()
  it('is a detached channel with the channel API', function()
    local ch = Mediator.Channel('orders')
    assert.are.equal('orders', ch.namespace)
    assert.is_nil(ch.parent)
    local child = ch:addChannel('new')
    assert.is_true(ch:hasChannel('new'))
    assert.is_falsy(ch:hasChannel('old'))
    assert.are.equal(child, ch:getChannel('new'))
    assert.are.equal(ch, child.parent)
    local s = child:addSubscriber(function(x) return x + 1, true end)
    ch:addSubscriber(function(x) return x * 10 end)
    assert.are.same({ 2, 10 }, child:publish({}, 1))
    assert.are.equal(s, ch:getSubscriber(s.id).value)
    assert.are.equal(s, ch:removeSubscriber(s.id))
    assert.is_table(Mediator.Subscriber(function() end).options)
  end)
end)

describe('the host bus', function()
  it('is lusty.event, with the mediator API', function()
    local s = lusty.event:subscribe('spec:host', function(x) return x * 2 end)
    assert.are.same({ 42 }, lusty.event:publish('spec:host', 21))
    lusty.event:removeSubscriber(s.id)
  end)
end)
