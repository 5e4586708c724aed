-- The `ngx` API (docs/ngx.md) as lua-nginx-module documents it. Requests
-- are made with ngx.location.capture on an app of the spec's own, so each
-- handler below runs as the current request.
local cjson = require 'cjson'

-- An app with `handlers[name]` subscribed on request:<name> (and
-- handlers.after on the second publisher, `after`); runs `uri` through it
-- and returns the capture's result.
local function serve(handlers, uri, options)
  local app = require('lusty')()
  app.publishers = { { 'request' }, { 'after' } }
  for name, fn in pairs(handlers) do
    app.event:subscribe(name == 'after' and { 'after' } or { 'request', name }, fn)
  end
  local saved = rawget(_G, 'lusty')
  _G.lusty = app
  local ok, res = pcall(ngx.location.capture, uri, options)
  _G.lusty = saved
  assert(ok, res)
  return res
end

describe('ngx', function()
  it('is a global and the module ngx', function()
    assert.are.equal(require('ngx'), ngx)
    assert.are.equal(cjson.null, ngx.null)
    assert.are.equal(4, ngx.ERR)
    assert.are.equal(404, ngx.HTTP_NOT_FOUND)
    assert.are.equal(8, ngx.HTTP_POST)
  end)

  it('names what it does not provide instead of reading nil', function()
    local ok, err = pcall(function() return ngx.socket.tcp() end)
    assert.is_false(ok)
    assert.matches('ngx.socket.tcp is not provided by lusty server', err, 1, true)
    ok, err = pcall(function() return ngx.re.match('a', 'a') end)
    assert.matches('ngx.re.match is not provided', err, 1, true)
    ok, err = pcall(function() return ngx.no_such_thing end)
    assert.matches('ngx.no_such_thing is not provided', err, 1, true)
    ok, err = pcall(function() return ngx.req.raw_header() end)
    assert.matches('ngx.req.raw_header is not provided', err, 1, true)
  end)

  it('gives the process id as the worker pid', function()
    local f = assert(io.open('/proc/self/stat'))
    local pid = tonumber(f:read('*a'):match('^(%d+)'))
    f:close()
    assert.are.equal(pid, ngx.worker.pid())
    assert.are.equal(pid, ngx.worker.pid())
  end)

  it('refuses request functions outside a request', function()
    local ok, err = pcall(ngx.say, 'x')
    assert.is_false(ok)
    assert.matches('ngx.say needs a request', err, 1, true)
    assert.is_false(pcall(function() return ngx.ctx end))
    assert.are.equal('timer', ngx.get_phase())
  end)

  describe('utilities', function()
    it('escapes and unescapes URI components', function()
      assert.are.equal('a%20b%2F%C3%A4~-._', ngx.escape_uri('a b/ä~-._'))
      assert.are.equal('b r56 7%zz', ngx.unescape_uri('b%20r56+7%zz'))
    end)

    it('encodes and decodes query arguments', function()
      assert.are.equal('a&b=1&b=2&c=x%20y', ngx.encode_args({ c = 'x y', b = { 1, 2 }, a = true, d = false }))
      assert.are.same({ a = { '1', '2' }, b = true, c = '', [' x'] = 'y z' },
        ngx.decode_args('a=1&b&c=&a=2&%20x=y+z'))
      assert.are.same({ a = '1' }, ngx.decode_args('a=1&b=2', 1))
    end)

    it('base64, digests, CRC-32 and SQL quoting', function()
      assert.are.equal('aGVsbG8=', ngx.encode_base64('hello'))
      assert.are.equal('aGVsbG8', ngx.encode_base64('hello', true))
      assert.are.equal('hello', ngx.decode_base64('aGVsbG8='))
      assert.are.equal('hello', ngx.decode_base64('aGVsbG8'))
      assert.is_nil(ngx.decode_base64('a===b'))
      assert.are.equal('900150983cd24fb0d6963f7d28e17f72', ngx.md5('abc'))
      assert.are.equal(16, #ngx.md5_bin('abc'))
      assert.are.equal('qZk+NkcGgWq6PiVxeFDCbJzQ2J0=', ngx.encode_base64(ngx.sha1_bin('abc')))
      assert.are.equal(907060870, ngx.crc32_short('hello'))
      assert.are.equal(0, ngx.crc32_long(''))
      assert.are.equal("'it\\'s\\n\\0\\\\\\\"\\Z'", ngx.quote_sql_str('it\'s\n\0\\"\26'))
    end)

    it('time', function()
      assert.are.equal('Thu, 18 Nov 2010 11:27:35 GMT', ngx.http_time(1290079655))
      assert.are.equal('Thu, 18-Nov-10 11:27:35 GMT', ngx.cookie_time(1290079655))
      assert.are.equal(1290079655, ngx.parse_http_time('Thu, 18 Nov 2010 11:27:35 GMT'))
      assert.is_nil(ngx.parse_http_time('yesterday'))
      assert.is_true(math.abs(ngx.now() - os.time()) < 2)
      assert.are.equal(math.floor(ngx.time()), ngx.time())
      assert.matches('^%d%d%d%d%-%d%d%-%d%d$', ngx.today())
    end)
  end)

  describe('in a request', function()
    it('prints strings, numbers, nil, booleans, null and nested arrays', function()
      local res = serve({ out = function()
        ngx.say('a', 1, nil, true, ngx.null, { 'b', { 'c' } })
        ngx.print('x')
        assert.has_error(function() ngx.say({ k = 1 }) end,
          "bad argument #1 to 'say' (non-array table found)")
      end }, '/out')
      assert.are.equal(200, res.status)
      assert.are.equal('a1niltruenullbc\nx', res.body)
    end)

    it('sets the status and headers, names without case and with underscores', function()
      local res = serve({ h = function()
        ngx.status = 201
        ngx.header.content_type = 'text/plain'
        ngx.header['Content-Type'] = 'text/html'
        ngx.header.set_cookie = { 'a=1', 'b=2' }
        ngx.header.x_gone = 'x'
        ngx.header.X_Gone = nil
        assert.are.equal('text/html', ngx.header.CONTENT_TYPE)
        assert.are.equal(201, ngx.status)
        ngx.say('ok')
      end }, '/h')
      assert.are.equal(201, res.status)
      assert.are.same({ ['Content-Type'] = 'text/html', ['set-cookie'] = { 'a=1', 'b=2' } }, res.header)
    end)

    it('reads the request through ngx.req and ngx.var', function()
      local seen
      serve({ r = function(context)
        local h = ngx.req.get_headers()
        seen = {
          method = ngx.req.get_method(), args = ngx.req.get_uri_args(),
          post = ngx.req.get_post_args(), body = ngx.req.get_body_data(),
          uri = ngx.var.uri, args_var = ngx.var.args, arg_x = ngx.var.arg_x,
          request_uri = ngx.var.request_uri, ctype = h.content_type,
          internal = ngx.req.is_internal(),
        }
        ngx.req.set_method(ngx.HTTP_PUT)
        ngx.req.set_header('X-Set', 'yes')
        seen.after = { context.request.method, context.request.headers['x-set'] }
        ngx.var.mine = 1
        seen.mine = ngx.var.mine
        ngx.say('')
      end }, '/r/a%20b', { method = ngx.HTTP_POST, args = { x = '1' }, body = 'p=q' })
      assert.are.same({
        method = 'POST', args = { x = '1' }, post = {}, body = 'p=q', uri = '/r/a b',
        args_var = 'x=1', arg_x = '1', request_uri = '/r/a%20b?x=1', internal = true,
        after = { 'PUT', 'yes' }, mine = '1',
      }, seen)
    end)

    it('gives each request its own ngx.ctx', function()
      local res = serve({
        outer = function()
          ngx.ctx.name = 'outer'
          local inner = ngx.location.capture('/inner')
          ngx.say(ngx.ctx.name, ' ', inner.body)
        end,
        inner = function()
          ngx.print(tostring(ngx.ctx.name))
          ngx.ctx.name = 'inner'
        end,
      }, '/outer')
      assert.are.equal('outer nil\n', res.body)
    end)

    it('ends the pipeline at ngx.exit', function()
      local ran = false
      local after = function() ran = true; return nil, true end
      local res = serve({ a = function() ngx.exit(403) end, after = after }, '/a')
      assert.are.equal(403, res.status)
      assert.is_false(ran)
      serve({ a = function() return nil, true end, after = after }, '/a')
      assert.is_true(ran)
      ran = false
      res = serve({ a = function() ngx.say('done'); ngx.exit(ngx.OK) end, after = after }, '/a')
      assert.are.same({ 200, 'done\n' }, { res.status, res.body })
      assert.is_false(ran)
    end)

    it('ignores status and header changes once the headers were sent', function()
      local seen
      local res = serve({ sent = function()
        ngx.status = 202
        ngx.send_headers()
        ngx.status = 500
        ngx.header.x_late = '1'
        seen = { ngx.headers_sent, ngx.status }
        ngx.say('body')
      end }, '/sent')
      assert.are.same({ true, 202 }, seen)
      assert.are.same({ 202, 'body\n' }, { res.status, res.body })
      assert.is_nil(res.header['x-late'])
    end)

    it('redirects', function()
      local res = serve({ go = function() ngx.redirect('/there', 301) end }, '/go')
      assert.are.equal(301, res.status)
      assert.are.equal('/there', res.header.location)
    end)

    it('sleeps without losing the request', function()
      local res = serve({ nap = function()
        ngx.ctx.v = 'kept'
        ngx.sleep(0.01)
        ngx.say(ngx.ctx.v)
      end }, '/nap')
      assert.are.equal('kept\n', res.body)
    end)

    it('answers 404 for a subrequest nobody answered and 500 for one that failed', function()
      assert.are.equal(404, serve({}, '/nobody').status)
      assert.are.equal(500, serve({ boom = function() error('boom') end }, '/boom').status)
    end)
  end)
end)

describe('ngx.shared', function()
  before_each(function()
    ngx.shared.specdict:flush_all()
    ngx.shared.specsmall:flush_all()
  end)

  it('gets, sets, adds, replaces, increments and deletes', function()
    local d = ngx.shared.specdict
    assert.are.same({ true, nil, false }, { d:set('a', 'x') })
    assert.are.equal('x', d:get('a'))
    assert.are.same({ false, 'exists', false }, { d:add('a', 1) })
    assert.are.same({ false, 'not found', false }, { d:replace('b', 1) })
    assert.are.same({ nil, 'not found' }, { d:incr('n', 1) })
    assert.are.equal(1, (d:incr('n', 1, 0)))
    assert.are.equal(6, (d:incr('n', 5)))
    assert.are.same({ nil, 'not a number' }, { d:incr('a', 1) })
    d:set('f', true, 0, 7)
    assert.are.same({ true, 7 }, { d:get('f') })
    d:delete('f')
    assert.is_nil(d:get('f'))
    d:set('gone', 1)
    d:set('gone', nil)
    assert.is_nil(d:get('gone'))
    local keys = d:get_keys(0)
    table.sort(keys)
    assert.are.same({ 'a', 'n' }, keys)
  end)

  it('forgets entries after their expiry', function()
    local d = ngx.shared.specdict
    d:set('short', 'v', 0.05)
    d:set('long', 'v', 60)
    assert.are.equal('v', d:get('short'))
    assert.is_true(d:ttl('long') > 59)
    lusty.sleep(0.1)
    assert.is_nil(d:get('short'))
    assert.are.equal('v', d:get('long'))
    assert.are.same({ 'long' }, d:get_keys())
  end)

  it('evicts the least recently used entries at its size, and says so', function()
    local d = ngx.shared.specsmall
    for i = 1, 5 do assert.is_true((d:set('k' .. i, 'v'))) end
    d:get('k1') -- used again: k2 is now the oldest
    local ok, err, forcible = d:set('k6', 'v')
    assert.are.same({ true, nil, true }, { ok, err, forcible })
    assert.is_nil(d:get('k2'))
    assert.are.equal('v', d:get('k1'))
    assert.are.same({ false, 'no memory', false }, { d:safe_set('k7', 'v') })
    assert.are.same({ false, 'no memory', false }, { d:set('big', ('x'):rep(1000)) })
  end)

  it('names what is not declared or not provided', function()
    assert.has_error(function() return ngx.shared.undeclared end,
      'ngx.shared.undeclared is not declared: add "shared_dict": { "undeclared": "1m" } to lusty.json')
    local ok, err = pcall(function() return ngx.shared.specdict:lpush('l', 1) end)
    assert.matches('ngx.shared.DICT:lpush is not provided', err, 1, true)
  end)
end)
