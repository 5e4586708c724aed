-- lusty.log and lusty.log.console (contract section 8, docs/builtins.md).
local H = dofile(debug.getinfo(1, 'S').source:sub(2):match('^(.*/)') .. 'builtins_helper.lua')
local native = require 'lusty.native'

local function logApp(level, extra)
  local a = H.app({ publishers = { 'request' }, context = { ['lusty.log'] = { level = level } } })
  local events = {}
  a.event:subscribe('log', function(e) events[#events + 1] = e end)
  return a, events
end

describe('lusty.log', function()
  it('adds context.log publishing { context, message, level } on log:<level>', function()
    local a = H.app({ context = { ['lusty.log'] = { level = 'debug' } } })
    local seen = {}
    for _, level in ipairs({ 'debug', 'info', 'warning', 'error' }) do
      a.event:subscribe('log:' .. level, function(e) seen[#seen + 1] = level .. '=' .. e.message; return nil, true end)
    end
    local ctx = a:request(H.context())
    for _, level in ipairs({ 'debug', 'info', 'warning', 'error' }) do ctx.log(level .. '!', level) end
    assert.are.same({ 'debug=debug!', 'info=info!', 'warning=warning!', 'error=error!' }, seen)
  end)

  it('drops messages below config.level', function()
    local a, events = logApp('warning')
    local ctx = a:request(H.context())
    ctx.log('d', 'debug')
    ctx.log('i', 'info')
    ctx.log('w', 'warning')
    ctx.log('w2', 'warn')
    ctx.log('e', 'error')
    local got = {}
    for i, e in ipairs(events) do got[i] = e.level .. ':' .. e.message end
    assert.are.same({ 'warning:w', 'warning:w2', 'error:e' }, got)
  end)

  it('defaults to level info and logs at info without a level', function()
    local a = H.app({ context = { ['lusty.log'] = {} } })
    local events = {}
    a.event:subscribe('log', function(e) events[#events + 1] = e end)
    local ctx = a:request(H.context())
    ctx.log('quiet', 'debug')
    ctx.log('plain')
    assert.are.equal(1, #events)
    assert.are.equal('info', events[1].level)
  end)

  it("each event carries the request's context; the global context logs too", function()
    local a, events = logApp('debug')
    local ctx = a:request(H.context({ uri = '/users/1' }))
    ctx.log('hello')
    assert.are.equal(ctx, events[1].context)
    a.context.log('global')
    assert.are.equal(a.context, events[2].context)
  end)

  it('refuses an unknown level', function()
    local a = logApp('debug')
    local ctx = a:request(H.context())
    assert.has_error(function() ctx.log('x', 'loud') end)
    assert.has_error(function() H.app({ context = { ['lusty.log'] = { level = 'loud' } } }) end)
  end)
end)

describe('lusty.log.console', function()
  local realStderr, lines
  before_each(function()
    realStderr = io.stderr
    lines = {}
    io.stderr = { write = function(_, s) lines[#lines + 1] = s end }
  end)
  after_each(function() io.stderr = realStderr end)

  it('writes time, level and message to stderr and returns (event, true)', function()
    local m = H.module('lusty.log.console', { color = false }, { 'log' })
    local event = { message = 'hello there', level = 'warning' }
    local value, continue = m.handler(event)
    assert.are.equal(event, value)
    assert.is_true(continue)
    assert.are.equal(1, #lines)
    assert.matches('^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d%.%d%d%d WARNING hello there\n$', lines[1])
  end)

  it('colours the level only when asked or on a terminal without NO_COLOR', function()
    local m = H.module('lusty.log.console', { color = true }, { 'log' })
    m.handler({ message = 'boom', level = 'error' })
    assert.matches('\27%[[%d;]+mERROR  \27%[0m boom', lines[1])

    local isatty, getenv = native.isatty, os.getenv
    local env = {}
    native.isatty = function() return true end
    os.getenv = function(name) return env[name] end
    local ok, err = pcall(function()
      H.module('lusty.log.console', {}, { 'log' }).handler({ message = 'a', level = 'info' })
      env.NO_COLOR = '1'
      H.module('lusty.log.console', {}, { 'log' }).handler({ message = 'b', level = 'info' })
      env.NO_COLOR = nil
      native.isatty = function() return false end
      H.module('lusty.log.console', {}, { 'log' }).handler({ message = 'c', level = 'info' })
    end)
    native.isatty, os.getenv = isatty, getenv
    assert(ok, err)
    assert.matches('\27[', lines[2], 1, true)
    assert.is_nil(lines[3]:find('\27', 1, true))
    assert.is_nil(lines[4]:find('\27', 1, true))
  end)

  it('prints events published by lusty.log, and other log subscribers still run', function()
    local a = H.app({
      subscribers = { log = { { ['lusty.log.console'] = { color = false } } } },
      context = { ['lusty.log'] = { level = 'debug' } },
    })
    local after = 0
    a.event:subscribe('log', function() after = after + 1 end)
    local ctx = a:request(H.context())
    ctx.log('first', 'debug')
    ctx.log('second', 'error')
    assert.are.equal(2, #lines)
    assert.matches(' DEBUG   first\n$', lines[1])
    assert.matches(' ERROR   second\n$', lines[2])
    assert.are.equal(2, after)
  end)
end)
