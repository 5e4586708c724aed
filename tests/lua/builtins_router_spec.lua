-- lusty.router (contract section 8, docs/builtins.md).
local H = dofile(debug.getinfo(1, 'S').source:sub(2):match('^(.*/)') .. 'builtins_helper.lua')

-- An app with a router on `on` (default 'request') and publishers.
local function app(patterns, on, publishers, luaPatterns)
  return H.app({
    subscribers = { [on or 'request'] = { ['lusty.router'] = {
      patterns = patterns, tag = 'cfg', lua_patterns = luaPatterns,
    } } },
    publishers = publishers or { 'request' },
  })
end

local function request(a, uri, opts)
  opts = opts or {}
  opts.uri = uri
  local ctx = H.context(opts)
  a:request(ctx)
  return ctx
end

local function routes(ctx)
  local out = {}
  for i, r in ipairs(ctx.ran or {}) do out[i] = r.route end
  return out
end

describe('lusty.router', function()
  it('matches the whole path, anchored, with an optional trailing /', function()
    local a = app({ { ['users'] = 'routes.record' } })
    for _, row in ipairs({
      { '/users', 200 }, { '/users/', 200 }, { '/users/1', 404 }, { '/xusers', 404 },
      { '/user', 404 }, { '/usersx', 404 }, { '/', 404 },
    }) do
      local ctx = request(a, row[1])
      assert.are.equal(row[2], ctx.response.status, row[1])
    end
  end)

  it("'' matches only /", function()
    local a = app({ { [''] = 'routes.record' } })
    assert.are.equal(200, request(a, '/').response.status)
    assert.are.equal(404, request(a, '/x').response.status)
    assert.are.equal(404, request(a, '/users/1').response.status)
  end)

  it('sets 404 before matching and leaves it when nothing matches', function()
    local a = app({ { ['users'] = 'routes.record' } })
    local ctx = request(a, '/other')
    assert.are.equal(404, ctx.response.status)
    assert.is_nil(ctx.ran)
    ctx = request(a, '/users')
    assert.are.equal(404, ctx.ran[1].status) -- what the route saw
  end)

  it('injects one local per {name}, context and the router config', function()
    local a = app({ { ['users/{userId}/posts/{postId}'] = 'routes.record' } })
    local ctx = request(a, '/users/7/posts/abc')
    assert.are.same({ 'record' }, routes(ctx))
    assert.are.equal('7', ctx.ran[1].userId)
    assert.are.equal('abc', ctx.ran[1].postId)
    assert.are.equal('cfg', ctx.ran[1].config.tag)
    assert.are.equal(404, request(a, '/users/7/posts').response.status)
    assert.are.equal(404, request(a, '/users/7/posts/a/b').response.status)
  end)

  it('{name} matches exactly one segment', function()
    local a = app({ { ['files/{userId}'] = 'routes.record' } })
    assert.are.equal(404, request(a, '/files/a/b').response.status)
    assert.are.equal('a', request(a, '/files/a/').ran[1].userId)
  end)

  it('takes the first match in order', function()
    local a = app({
      { ['users/new'] = 'routes.other' },
      { ['users/{userId}'] = 'routes.record' },
      { ['users/{userId}'] = 'routes.other' },
    })
    assert.are.same({ 'other' }, routes(request(a, '/users/new')))
    assert.are.same({ 'record' }, routes(request(a, '/users/5')))
  end)

  -- The warnings the router writes on stderr while it loads.
  local function warnings(patterns, luaPatterns)
    local fn = function()
      H.module('lusty.router', { patterns = patterns, lua_patterns = luaPatterns }, { 'request' })
    end
    local lines, stderr = {}, io.stderr
    io.stderr = { write = function(_, text) lines[#lines + 1] = text end }
    local ok, err = pcall(fn)
    io.stderr = stderr
    assert(ok, err)
    return table.concat(lines)
  end

  it('matches pattern text literally, except {name}', function()
    local a = app({
      { ['blog-posts'] = 'routes.other' },
      { ['feed.xml'] = 'routes.record' },
      { ['a+b/{userId}.json'] = 'routes.record' },
    })
    assert.are.same({ 'other' }, routes(request(a, '/blog-posts')))
    assert.are.equal(404, request(a, '/blog-postss').response.status)
    assert.are.equal(200, request(a, '/feed.xml').response.status)
    assert.are.equal(404, request(a, '/feedXxml').response.status)
    local ctx = request(a, '/a+b/7.json')
    assert.are.equal(200, ctx.response.status)
    assert.are.equal('7', ctx.ran[1].userId)
    assert.are.equal(404, request(a, '/aab/7.json').response.status)
  end)

  it('warns at load about a literal pattern that looks like Lua syntax', function()
    local text = warnings({ { ['users[/]?'] = 'routes.other' } })
    assert.matches("pattern 'users%[/%]%?' is matched as literal text", text)
    assert.matches('lua_patterns = true', text)
    assert.are.equal('', warnings({ { ['feed.xml'] = 'routes.other' } }))
  end)

  it('warns at load about Lua patterns whose - or . match something else', function()
    local text = warnings({ { ['blog-posts'] = 'routes.other' }, { ['feed.xml'] = 'x' } }, true)
    assert.matches("'blog%-posts' uses '%-' as a Lua quantifier", text)
    assert.matches("'feed%.xml' uses '%.' as a Lua pattern", text)
    assert.are.equal('', warnings({ { ['users[/]?'] = 'x' }, { ['blog%-posts'] = 'x' } }, true))
  end)

  it('accepts Lua pattern syntax with lua_patterns = true, its captures not injected', function()
    local a = app({
      { ['users[/]?'] = 'routes.other' },
      { ['posts/(%d+)/{userId}'] = 'routes.record' },
      { ['v%d+/items'] = 'routes.record' },
      { ['^/anchored$'] = 'routes.record' },
    }, nil, nil, true)
    assert.are.same({ 'other' }, routes(request(a, '/users')))
    assert.are.same({ 'other' }, routes(request(a, '/users/')))
    local ctx = request(a, '/posts/12/bob')
    assert.are.same({ 'record' }, routes(ctx))
    assert.are.equal('bob', ctx.ran[1].userId)
    assert.are.equal(404, request(a, '/posts/x/bob').response.status)
    assert.are.equal(200, request(a, '/v2/items').response.status)
    assert.are.equal(200, request(a, '/anchored').response.status)
    assert.are.equal(200, request(a, '/anchored/').response.status)
  end)

  it('matches the path relative to the channel it sits on', function()
    local a = app({ { ['users/{userId}'] = 'routes.record' }, { [''] = 'routes.other' } },
      'request:api', { 'request' })
    local ctx = request(a, '/api/users/3')
    assert.are.same({ 'record' }, routes(ctx))
    assert.are.equal('3', ctx.ran[1].userId)
    assert.are.same({ 'other' }, routes(request(a, '/api')))
    assert.is_nil(request(a, '/users/3').ran)
  end)

  it('works under a publisher of two names', function()
    local a = app({ { ['users/{userId}'] = 'routes.record' } }, 'http:get', { 'http:get' })
    assert.are.equal('9', request(a, '/users/9').ran[1].userId)
  end)

  it('falls back to request.uri when the context has no suffix', function()
    local a = app({ { ['users/{userId}'] = 'routes.record' } })
    local ctx = H.context({ uri = '/users/4' })
    ctx.suffix = nil
    a.event:publish('request', ctx)
    assert.are.equal('4', ctx.ran[1].userId)
  end)

  it('returns what the route returns: by default the publish ends', function()
    local a = app({ { ['a'] = 'routes.record' }, { ['b'] = 'routes.continue' } })
    local seen = 0
    a.event:subscribe('request', function() seen = seen + 1 end)
    local ctx = H.context({ uri = '/a' })
    a:request(ctx)
    assert.are.equal(0, seen)
    ctx = H.context({ uri = '/b' })
    assert.are.same({ 'continued' }, a:publish('request', ctx))
    assert.are.equal(1, seen)
  end)

  it('lets the publish go on when nothing matches', function()
    local a = app({ { ['a'] = 'routes.record' } })
    local seen = 0
    a.event:subscribe('request', function() seen = seen + 1 end)
    a:request(H.context({ uri = '/zzz' }))
    assert.are.equal(1, seen)
  end)

  it('reports a failing route with its file and line', function()
    local a = app({ { ['x'] = 'routes.raise' } })
    local ctx = request(a, '/x')
    assert.are.equal(1, #ctx.error)
    assert.matches('routes/raise.lua:2: route failed', ctx.error[1].message, 1, true)
  end)

  it('routes the channel named by context.channel without the URL or a 404 reset', function()
    local a = app({ { ['users'] = 'routes.other' }, { ['500'] = 'routes.record' } })
    local ctx = H.context({ uri = '/users' })
    ctx.response.status = 500
    ctx.channel = { 'request', '500' }
    a.event:publish('request:500', ctx)
    assert.are.same({ 'record' }, routes(ctx))
    assert.are.equal(500, ctx.ran[1].status)
  end)

  it('ignores a context.channel that is not under its channel', function()
    local a = app({ { ['users'] = 'routes.other' } })
    local ctx = H.context({ uri = '/users' })
    ctx.channel = { 'output', 'x' }
    a:request(ctx)
    assert.are.same({ 'other' }, routes(ctx))
  end)

  it('refuses malformed config when it loads', function()
    assert.has_error(function() H.module('lusty.router', { patterns = { 'users' } }, { 'request' }) end)
    assert.has_error(function()
      H.module('lusty.router', { patterns = { { a = 'x', b = 'y' } } }, { 'request' })
    end)
    assert.has_error(function()
      H.module('lusty.router', { patterns = { { ['users[%'] = 'x' } }, lua_patterns = true },
        { 'request' })
    end)
    assert.has_no.errors(function() H.module('lusty.router', {}, { 'request' }) end)
  end)

  -- The route chunk comes from util.inline's cache, looked up from Lua
  -- (util.compile / util.cache): compiled once, run afresh per request.
  describe('route chunk cache', function()
    local util = require 'lusty.util'
    local root = assert(package.path:match('([^;]*)/app/%?%.lua'))
    local file = root .. '/app/routes/tmp_counted.lua'
    after_each(function()
      os.remove(file)
      util.clearCache()
      _G.tmp_counted_runs = nil
    end)

    it('compiles a route once, runs it per request, recompiles after clearCache', function()
      H.write(file, "tmp_counted_runs = (tmp_counted_runs or 0) + 1\n"
        .. "context.seen = { v = 1, id = id, config = config }\ncontext.response.status = 200\n")
      local a = app({ { ['c/{id}'] = 'routes.tmp_counted' } })
      local c1 = request(a, '/c/1')
      H.write(file, "context.seen = { v = 2, id = id }\ncontext.response.status = 200\n")
      local c2 = request(a, '/c/2')
      assert.are.same({ 1, '1', 'cfg' }, { c1.seen.v, c1.seen.id, c1.seen.config.tag })
      assert.are.same({ 1, '2' }, { c2.seen.v, c2.seen.id }) -- cached chunk, new values
      assert.are.equal(2, _G.tmp_counted_runs)
      local fn, key, names = util.compile('routes.tmp_counted', { context = 1, config = 1, id = 1 })
      assert.are.same({ 'config', 'context', 'id' }, names)
      assert.are.equal(fn, util.cache[1][key])
      util.clearCache()
      assert.are.equal(2, request(a, '/c/3').seen.v)
      assert.is_nil(request(a, '/c/3').error)
    end)

    it('gives a capture named like a built-in local priority, as inline does', function()
      H.write(file, "_G.tmp_counted_runs = { config = config, context = context }\n")
      local a = app({ { ['c/{config}'] = 'routes.tmp_counted' } })
      request(a, '/c/zz')
      assert.are.equal('zz', _G.tmp_counted_runs.config)
      assert.are.equal('table', type(_G.tmp_counted_runs.context))
    end)

    it('runs routes with many captures too', function()
      H.write(file, "context.seen = { a, b, c, d, e }\ncontext.response.status = 200\n")
      local a = app({ { ['{a}/{b}/{c}/{d}/{e}'] = 'routes.tmp_counted' } })
      assert.are.same({ '1', '2', '3', '4', '5' }, request(a, '/1/2/3/4/5').seen)
      local b = app({ { ['{a}/(x)/{c}'] = 'routes.tmp_counted' } }, nil, nil, true)
      assert.are.same({ '1', nil, '3' }, request(b, '/1/x/3').seen)
    end)

    it('reports a route that does not compile, on every request', function()
      H.write(file, "this is not lua\n")
      local a = app({ { ['c'] = 'routes.tmp_counted' } })
      for _ = 1, 2 do
        local ctx = request(a, '/c')
        assert.matches('tmp_counted.lua:1:', ctx.error[1].message, 1, true)
      end
    end)
  end)
  describe('methods', function()
    local function call(a, method, uri)
      return request(a, uri, { method = method })
    end

    it('runs a route written "GET pattern" only for GET and HEAD', function()
      local a = app({ { ['GET users/{userId}'] = 'routes.record' } })
      assert.are.equal('3', call(a, 'GET', '/users/3').ran[1].userId)
      assert.are.equal('4', call(a, 'HEAD', '/users/4').ran[1].userId)
      local ctx = call(a, 'POST', '/users/3')
      assert.is_nil(ctx.ran)
      assert.are.equal(405, ctx.response.status)
      assert.are.equal('GET, HEAD', ctx.response.headers['allow'])
      assert.are.equal(404, call(a, 'POST', '/other').response.status)
    end)

    it('takes a list of methods, in the entry or in the prefix', function()
      local a = app({
        { 'POST', 'PUT', ['users'] = 'routes.other' },
        { ['GET,DELETE users/{userId}'] = 'routes.record' },
      })
      assert.are.same({ 'other' }, routes(call(a, 'PUT', '/users')))
      assert.are.same({ 'other' }, routes(call(a, 'POST', '/users')))
      assert.are.same({ 'record' }, routes(call(a, 'DELETE', '/users/1')))
      local ctx = call(a, 'GET', '/users')
      assert.are.equal(405, ctx.response.status)
      assert.are.equal('POST, PUT', ctx.response.headers['allow'])
      ctx = call(a, 'PATCH', '/users/1')
      assert.are.equal('DELETE, GET, HEAD', ctx.response.headers['allow'])
    end)

    it('goes on to a later route of the same path for another method', function()
      local a = app({
        { ['GET users'] = 'routes.record' },
        { ['POST users'] = 'routes.other' },
        { ['users/{userId}'] = 'routes.record' },
      })
      assert.are.same({ 'record' }, routes(call(a, 'GET', '/users')))
      assert.are.same({ 'other' }, routes(call(a, 'POST', '/users')))
      local ctx = call(a, 'DELETE', '/users')
      assert.are.equal('GET, HEAD, POST', ctx.response.headers['allow'])
      -- A method-less route runs for any method, as before.
      assert.are.same({ 'record' }, routes(call(a, 'DELETE', '/users/2')))
    end)

    it('lets error routing reach a route whatever the method', function()
      local a = app({ { ['GET 404'] = 'routes.record' } })
      local ctx = H.context({ method = 'POST', uri = '/x' })
      ctx.channel = { 'request', '404' }
      a:request(ctx)
      assert.are.same({ 'record' }, routes(ctx))
    end)

    it('refuses a method that is not a name in capitals', function()
      assert.has_error(function() app({ { 'get', ['users'] = 'routes.record' } }) end)
      assert.has_error(function() app({ { 1, ['users'] = 'routes.record' } }) end)
      assert.has_error(function()
        app({ { ['users'] = 'routes.record', ['x'] = 'routes.other' } })
      end)
    end)
  end)
end)
