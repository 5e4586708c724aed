-- Contract section 2: handler modules and lusty.util.inline.
local util = require 'lusty.util'

-- The fixture project's folder (the specs run inside it).
local root = assert(package.path:match('([^;]*)/app/%?%.lua'))

local function write(path, text)
  local f = assert(io.open(root .. '/' .. path, 'w'))
  f:write(text)
  f:close()
end

describe('lusty.util.inline', function()
  after_each(function()
    _G.injected_global_probe = nil
    util.clearCache()
    os.remove(root .. '/app/lib/tmp_cached.lua')
  end)

  it('injects the keys of env as locals, shadowing globals', function()
    _G.a = 'global a'
    _G.injected_global_probe = 'global g'
    local r = util.inline('lib.inject', { a = 1, b = 2 })
    assert.are.equal(1, r.a)
    assert.are.equal(2, r.b)
    assert.are.equal('global g', r.g)
    assert.are.equal('global a', _G.a)
    _G.a = nil
  end)

  it('leaves names that are not injected as ordinary globals', function()
    _G.b = 'global b'
    local r = util.inline('lib.inject', { a = 1 })
    assert.are.equal('global b', r.b)
    _G.b = nil
    r = util.inline('lib.inject', {})
    assert.is_nil(r.a)
  end)

  it('compiles once per module and set of names, runs each time', function()
    write('app/lib/tmp_cached.lua', 'inline_runs = (inline_runs or 0) + 1 return { v = 1, x = x }')
    assert.are.equal(1, util.inline('lib.tmp_cached', { x = 'a' }).v)
    write('app/lib/tmp_cached.lua', 'inline_runs = (inline_runs or 0) + 1 return { v = 2, x = x }')
    local r = util.inline('lib.tmp_cached', { x = 'b' })
    assert.are.equal(1, r.v) -- same names: the compiled chunk is reused...
    assert.are.equal('b', r.x) -- ...with the new values
    assert.are.equal(2, _G.inline_runs) -- and run again
    assert.are.equal(2, util.inline('lib.tmp_cached', { x = 1, y = 2 }).v) -- new names: compiled
    util.clearCache()
    write('app/lib/tmp_cached.lua', 'return { v = 3 }')
    assert.are.equal(3, util.inline('lib.tmp_cached', { x = 1 }).v)
    _G.inline_runs = nil
  end)

  it('returns every value the chunk returns', function()
    write('app/lib/tmp_cached.lua', 'return 1, nil, 3')
    assert.are.equal(3, select('#', util.inline('lib.tmp_cached')))
    local a, b, c = util.inline('lib.tmp_cached')
    assert.are.same({ 1, nil, 3 }, { a, b, c })
  end)

  it('reports runtime errors with the real file name and line', function()
    local ok, err = pcall(util.inline, 'lib.raise', { what = 'x' })
    assert.is_false(ok)
    assert.matches('app/lib/raise%.lua:3: raised here x', err)
  end)

  it('reports syntax errors with the real file name and line', function()
    local ok, err = pcall(util.inline, 'lib.syntax', { a = 1 })
    assert.is_false(ok)
    assert.matches('app/lib/syntax%.lua:3:', err)
  end)

  it('reports a missing module with the places that matter, not every file tried', function()
    local ok, err = pcall(util.inline, 'no.such.module', {})
    assert.is_false(ok)
    assert.matches("module 'no.such.module' not found; looked in the app", err, 1, true)
    assert.matches('the handler repository lusty-repo', err, 1, true)
    assert.matches("if 'no' is a handler repository, add it", err, 1, true)
    assert.is_nil(err:find('no file', 1, true))
  end)

  it('has require name who asked for a missing module, and report a failed one again', function()
    local ok, err = pcall(function() local m = require('no.such.thing'); return m end)
    assert.is_false(ok)
    assert.matches("module 'no.such.thing' not found; looked in", err, 1, true)
    assert.matches('asked by .*util_spec%.lua:%d+', err)
    assert.is_nil(err:find('no file', 1, true))
    local path = os.tmpname()
    local f = assert(io.open(path .. '.lua', 'w'))
    f:write("error('the first cause')\n")
    f:close()
    local dir, base = path:match('^(.*)/([^/]+)$')
    package.path = dir .. '/?.lua;' .. package.path
    for _ = 1, 2 do
      ok, err = pcall(require, base)
      assert.is_false(ok)
      assert.matches('the first cause', err, 1, true)
    end
    os.remove(path .. '.lua')
    os.remove(path)
  end)

  it('refuses names that are not Lua names', function()
    assert.has_error(function() util.inline('lib.inject', { ['not a name'] = 1 }) end)
    assert.has_error(function() util.inline('lib.inject', { ['end'] = 1 }) end)
  end)

  it('runs modules with Lua 5.1 semantics', function()
    local r = util.inline('lib.compat', {})
    assert.are.same({ n = 3, f = 42, g = 7, s = 'a+b+c', util = 'function' }, r)
  end)

  it('makes a handler: a table with handler and options', function()
    local m = util.inline('handlers.record', { channel = { 'x', 'y' }, config = { tag = 't' } })
    assert.is_function(m.handler)
    assert.is_function(m.options.predicate)
    local ctx = {}
    assert.are.same({ 't', nil }, { m.handler(ctx) })
    assert.are.same({ 't@x:y' }, ctx.trail)
  end)
end)
