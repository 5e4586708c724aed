-- Contract section 3: the fixture app's config (tests/fixtures/lua-app),
-- loaded by the host into the global `lusty`.
local function modules(channel)
  local out = {}
  for i, s in ipairs(lusty.event:getChannel(channel).callbacks) do
    out[i] = (s.module or '?') .. ((s.options.predicate and '+p') or '')
  end
  return table.concat(out, ' ')
end

describe('the app config', function()
  it('subscribes string entries with config {}', function()
    assert.are.equal('handlers.record+p', modules('input'))
    local ctx = lusty:request({})
    assert.are.equal('plain@input', ctx.trail[1])
  end)

  it('subscribes array-of-one-entry-table entries in order, then hash entries', function()
    assert.are.equal('handlers.record+p handlers.record+p handlers.stop', modules('request'))
    local res = lusty.event:publish('request', {})
    assert.are.same({ 'first', 'second', 'hash' }, res)
  end)

  it('subscribes hash entries with their config', function()
    assert.are.equal('handlers.record+p', modules('request:users'))
    local ctx = {}
    lusty.event:publish('request:users:7', ctx)
    assert.are.same({ 'users@request:users', 'first@request', 'second@request', 'hash@request' },
      ctx.trail)
  end)

  it('finds handler modules in fetched repositories', function()
    assert.are.equal('repo.handler', modules('output'))
  end)

  it('keeps the publishers in order, as arrays', function()
    assert.are.same({ { 'input' }, { 'request' }, { 'fail' }, { 'output' } }, lusty.publishers)
  end)

  it('exposes global as context.global', function()
    assert.are.same({ site = 'fixture' }, lusty.context.global)
  end)

  it('runs context modules once with context and config', function()
    assert.is_true(lusty.context.logReady)
    assert.is_function(lusty.context.log)
    local got
    local s = lusty.event:subscribe('log', function(e) got = e; return nil, true end)
    lusty.context.log('hello', 'warning')
    assert.are.same({ message = 'hello', level = 'warning' }, got)
    got = nil
    lusty.context.log('quiet', 'debug') -- below config.level
    assert.is_nil(got)
    lusty.event:removeSubscriber(s.id)
  end)

  it('calls the functions context modules return at each request, in config order', function()
    local a = lusty:request({})
    local b = lusty:request({})
    assert.are.equal('stamp,log,', a.order)
    assert.are_not.equal(a.stamp, b.stamp)
    assert.matches('^req%-%d+$', b.stamp)
  end)

  it('subscribes seed-style modules: fn(lusty, payload, callback)', function()
    assert.are.same({ { id = 2, name = 'bob' } }, lusty.event:publish('data:users:get', { id = 2 }))
    assert.are.same({}, lusty.event:publish('data:users:get', { id = 9 }))
    local all = lusty.event:publish('data:users:all', {})
    assert.are.same({ { id = 1, name = 'ada' }, { id = 2, name = 'bob' } }, all)
    assert.are.equal('data.users.handlers#get', lusty.event:getChannel('data:users:get').callbacks[1].module)
  end)

  it('applies a config table to a fresh app', function()
    local app = require 'lusty'()
    require 'lusty-config'(app, {
      subscribers = { ['a:b'] = { 'handlers.record', { ['handlers.stop'] = { tag = 's' } } } },
      publishers = { 'a:b' },
      context = { 'context.stamp' },
    })
    assert.are.same({ { 'a', 'b' } }, app.publishers)
    assert.are.equal(1, #app.contextFunctions)
    assert.are.same({ 'plain' }, app.event:publish('a:b', {})) -- config {}: no continue
    assert.has_error(function() require 'lusty-config'(app, 'nope') end)
    assert.has_error(function() require 'lusty-config'(app, { subscribers = { x = { 42 } } }) end)
  end)
end)
