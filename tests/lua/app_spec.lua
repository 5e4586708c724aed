-- Contract sections 4 (without HTTP), 5 and 6: the app object, the request
-- pipeline, the module path and cjson.
describe('the app object', function()
  it('is a fresh app per require "lusty"() and lusty.init is the same', function()
    local a, b = require 'lusty'(), require 'lusty'()
    assert.are_not.equal(a, b)
    assert.are_not.equal(a.event, b.event)
    assert.are.equal(require 'lusty', require 'lusty.init')
    assert.are.equal(a, a.context.lusty)
    assert.are.same({}, a.publishers)
  end)

  it('subscribes handler modules with channel and config injected', function()
    local app = require 'lusty'()
    local s = app:subscribe('a:b', 'handlers.record', { tag = 'x', continue = true })
    assert.are.equal('handlers.record', s.module)
    local ctx = {}
    assert.are.same({ 'x' }, app.event:publish('a:b:c', ctx))
    assert.are.same({ 'x@a:b' }, ctx.trail)
    assert.has_error(function() app:subscribe('a', 'lib.inject', {}) end)
  end)

  it('publish extends the channel with context.suffix', function()
    local app = require 'lusty'()
    app:subscribe('request:users', 'handlers.record', { tag = 'users' })
    app:subscribe('request', 'handlers.record', { tag = 'root' })
    local ctx = { suffix = { 'users', '1' } }
    assert.are.same({ 'users' }, app:publish({ 'request' }, ctx))
    ctx = { suffix = { 'posts' } }
    assert.are.same({ 'root' }, app:publish('request', ctx))
    assert.are.same({ 'root' }, app:publish('request', {}))
  end)

  it('addContext runs a context module and keeps its function', function()
    local app = require 'lusty'()
    local fn = app:addContext('context.stamp', { prefix = 'p' })
    assert.is_function(fn)
    assert.are.equal(fn, app.contextFunctions[1])
    app:addContext('context.log', { level = 'error' })
    assert.is_function(app.context.log)
  end)
end)

describe('lusty:request', function()
  it('runs context functions, then each publisher extended by suffix', function()
    local ctx = lusty:request({ suffix = { 'users', '3' } })
    assert.are.equal('stamp,log,', ctx.order)
    assert.are.same({ 'plain@input', 'users@request:users', 'first@request', 'second@request',
      'hash@request' }, ctx.trail)
    assert.are.equal('repo', ctx.output.repo)
  end)

  it('sets up input and output and reads through to the global context', function()
    local ctx = lusty:request({})
    assert.is_table(ctx.input)
    assert.is_table(ctx.output)
    assert.are.equal(lusty, ctx.lusty)
    assert.are.same({ site = 'fixture' }, ctx.global)
  end)

  it('collects errors with message and traceback and goes on', function()
    local ctx = lusty:request({ suffix = { 'x' } })
    assert.are.equal(1, #ctx.error)
    assert.matches('app/handlers/boom%.lua:4: boom in fail', ctx.error[1].message)
    assert.matches('stack traceback:', ctx.error[1].trace)
    assert.matches('boom%.lua:4', ctx.error[1].trace)
    assert.are.equal('repo', ctx.output.repo) -- the 'output' publisher still ran
  end)

  it('collects errors of context functions too', function()
    local app = require 'lusty'()
    table.insert(app.contextFunctions, function() error('ctx failed') end)
    app.publishers = { { 'p' } }
    local ran = false
    app.event:subscribe('p', function() ran = true end)
    local ctx = app:request({})
    assert.is_true(ran)
    assert.matches('ctx failed', ctx.error[1].message)
  end)

  it('returns the context it was given', function()
    local ctx = { suffix = {} }
    assert.are.equal(ctx, lusty:request(ctx))
  end)
end)

describe('the module path', function()
  it('finds app/ first, then the project root and lusty_modules', function()
    assert.are.equal('app', require 'shadow')
    assert.are.equal('repo', require 'onlyrepo')
    assert.matches('/app/%?%.lua;', package.path)
    assert.matches('lusty_modules/lusty%-repo/%?%.lua', package.path)
  end)

  it('finds native modules before any file of the same name', function()
    assert.is_function(require('mediator').Channel)
    assert.is_function(require('cjson').encode)
    assert.is_function(require('lusty.util').inline)
    assert.is_function(require('lusty-config'))
  end)

  it('still has the standard path', function()
    assert.is_table(require 'pl.tablex')
  end)
end)

describe('cjson', function()
  local cjson = require 'cjson'

  it('encodes arrays, objects, null and empty_array', function()
    assert.are.equal('[1,2,3]', cjson.encode({ 1, 2, 3 }))
    assert.are.equal('{"a":"b"}', cjson.encode({ a = 'b' }))
    assert.are.equal('{}', cjson.encode({}))
    assert.are.equal('[]', cjson.encode(cjson.empty_array))
    assert.are.equal('[1,null,3]', cjson.encode({ 1, cjson.null, 3 }))
    assert.are.equal('{"1":true,"x":false}',
      (cjson.encode({ [1] = true, x = false }):gsub('{"x":false,"1":true}', '{"1":true,"x":false}')))
    assert.are.equal('"a\\"b"', cjson.encode('a"b'))
    assert.has_error(function() cjson.encode({ f = print }) end)
    assert.has_error(function() cjson.encode({ [1] = 1, [100] = 2 }) end)
  end)

  it('writes numbers as digits, or with the digits needed to read them back', function()
    assert.are.equal('[0,-5,123456789012345,9007199254740992]',
      cjson.encode({ 0, -5, 123456789012345, 2 ^ 53 }))
    assert.are.equal('[0.1,0.30000000000000004,-2.5,1e+300,1e+15]',
      cjson.encode({ 0.1, 0.1 + 0.2, -2.5, 1e300, 1e15 }))
    for _, n in ipairs({ 0.1, 1 / 3, -1e-7, 2 ^ 63, 123.456 }) do
      assert.are.equal(n, cjson.decode(cjson.encode(n)))
    end
    assert.has_error(function() cjson.encode(0 / 0) end, 'Cannot serialise number: must not be NaN or Infinity')
    assert.has_error(function() cjson.encode({ x = math.huge }) end)
  end)

  it('escapes quotes, backslashes and control bytes, keeps the rest as it is', function()
    assert.are.equal([["a\"b\\c\n\r\t\b\f\u0001\u001f/é"]],
      cjson.encode('a"b\\c\n\r\t\b\f\1\31/é'))
    assert.are.equal([["nul\u0000inside"]], cjson.encode('nul\0inside'))
    assert.are.equal([[{"k\"ey":"v"}]], cjson.encode({ ['k"ey'] = 'v' }))
    local long = ('x'):rep(5000) .. '\n'
    assert.are.equal('"' .. ('x'):rep(5000) .. '\\n"', cjson.encode(long))
  end)

  it('encodes nested tables, number keys as strings, and refuses what JSON cannot hold', function()
    local v = cjson.decode(cjson.encode({ users = { { id = 1, tags = { 'a', 'b' } } }, [2.5] = 'x' }))
    assert.are.same({ users = { { id = 1, tags = { 'a', 'b' } } }, ['2.5'] = 'x' }, v)
    local deep = {}
    local t = deep
    for _ = 1, 1100 do t[1] = {} t = t[1] end
    assert.has_error(function() cjson.encode(deep) end, 'Cannot serialise, excessive nesting')
    assert.has_error(function() cjson.encode({ [true] = 1 }) end,
      'Cannot serialise boolean key: table key must be a number or string')
    assert.has_error(function() cjson.encode({ co = coroutine.create(print) }) end,
      'Cannot serialise thread: type not supported')
    -- The state's buffer is reused after an error.
    assert.are.equal('{"ok":true}', cjson.encode({ ok = true }))
  end)

  it('decodes with cjson.null for null', function()
    local v = cjson.decode('{"a":[1,2,{"b":null}],"c":true,"d":"x"}')
    assert.are.same({ 1, 2 }, { v.a[1], v.a[2] })
    assert.are.equal(cjson.null, v.a[3].b)
    assert.is_true(v.c)
    assert.has_error(function() cjson.decode('{nope') end)
  end)

  it('decodes escapes, surrogate pairs and NUL; the last of a repeated key wins', function()
    assert.are.equal('a"\\/\b\f\n\r\té😀', cjson.decode([["a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"]]))
    assert.are.equal('nul\0inside', cjson.decode([["nul\u0000inside"]]))
    assert.are.same({ a = 2 }, cjson.decode('{"a":1,"a":2}'))
    assert.are.same({ {}, {}, { -500, 0.25, 100 } }, cjson.decode(' [ [] , {} , [-0.5e3, 25e-2, 1E+2] ] '))
  end)

  it('reads strict JSON only, saying where it stopped', function()
    for text, at in pairs({ ['01'] = 2, ['1.'] = 3, ['.5'] = 1, ['+1'] = 1, ['[1,]'] = 4,
        ['{"a":1,}'] = 8, ['tru'] = 1, ['"abc'] = 5, ['"\\x"'] = 3, ['"\\ud800"'] = 8,
        ['"\\udc00"'] = 8, ['[1 2]'] = 4, [''] = 1, ['1 2'] = 3 }) do
      local ok, err = pcall(cjson.decode, text)
      assert.is_false(ok, text)
      assert.are.equal('Expected value but found invalid token at character ' .. at, err)
    end
  end)

  it('decodes 1000 nested arrays, not 1001', function()
    local deep = ('['):rep(1000) .. (']'):rep(1000)
    assert.is_true(pcall(cjson.decode, deep))
    assert.is_false(pcall(cjson.decode, '[' .. deep .. ']'))
  end)
end)

describe('lusty.host.msgh and lusty.host.trace', function()
  local host = require 'lusty.host'

  it('give the message and traceback host.pcall gives', function()
    local function fail() error('deep failure') end
    local ok1, err1, trace1 = host.pcall(fail)
    local ok2, err2 = xpcall(fail, host.msgh)
    local trace2 = host.trace(err2)
    assert.is_false(ok1)
    assert.is_false(ok2)
    assert.are.equal(err1, err2)
    assert.matches('deep failure', err2)
    assert.matches('stack traceback:', trace2)
    assert.are.equal(type(trace1), type(trace2))
  end)
end)
