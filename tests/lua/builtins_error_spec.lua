-- lusty.error.status and error routing through lusty.router (contract
-- section 8, docs/builtins.md).
local H = dofile(debug.getinfo(1, 'S').source:sub(2):match('^(.*/)') .. 'builtins_helper.lua')

-- An app shaped like the default template: routes, error routes, output.
local function app(errorConfig, patterns)
  return H.app({
    subscribers = {
      request = { ['lusty.router'] = { patterns = patterns or {
        { ['users'] = 'routes.other' },
        { ['x'] = 'routes.raise' },
        { ['down'] = 'routes.raise_status' },
        { ['404'] = 'routes.notfound' },
        { ['500'] = 'routes.notfound' },
      } } },
      error = { ['lusty.error.status'] = errorConfig or {
        status = { [404] = { 'request:404' }, [500] = { 'request:500' } },
        suffix = { 'output' },
      } },
      output = { 'lusty.json.output' },
    },
    publishers = { 'request', 'error', 'output' },
  })
end

local function request(a, uri, status)
  local ctx, sent = H.context({ uri = uri, accept = 'application/json' })
  if status then
    -- A status set after the routes ran, before lusty.error.status.
    a.event:subscribe('error', function(c) c.response.status = status; return nil, true end,
      { priority = 1 })
  end
  a:request(ctx)
  return ctx, sent
end

local function routes(ctx)
  local out = {}
  for i, r in ipairs(ctx.ran or {}) do out[i] = r.route .. ':' .. tostring(r.status) end
  return out
end

describe('lusty.error.status', function()
  it("runs the app's 404 route for an unknown URL, once, and sends its answer", function()
    local ctx, sent = request(app(), '/nowhere/at/all')
    assert.are.same({ 'notfound:404' }, routes(ctx))
    assert.are.equal(404, ctx.response.status)
    assert.are.same({ '{"error":404}' }, sent)
    assert.is_nil(ctx.output)
  end)

  it("runs the app's 500 route when a handler raised, keeping status 500", function()
    local ctx, sent = request(app(), '/x')
    assert.are.equal(1, #ctx.error)
    assert.are.same({ 'notfound:500' }, routes(ctx))
    assert.are.equal(500, ctx.response.status)
    assert.are.same({ '{"error":500}' }, sent)
  end)

  it('takes the status of an error object that carries one (the store: 503)', function()
    local ctx, sent = request(app(), '/down')
    assert.are.equal(1, #ctx.error)
    assert.are.equal('store: down', ctx.error[1].message)
    -- 503 has no entry of its own: the 500 route answers, with status 503.
    assert.are.same({ 'notfound:503' }, routes(ctx))
    assert.are.equal(503, ctx.response.status)
    assert.are.same({ '{"error":503}' }, sent)
  end)

  it('error routes are not URLs: /500 and /404 get the 404 page, once', function()
    for _, uri in ipairs({ '/500', '/404', '/404/' }) do
      local ctx, sent = request(app(), uri)
      assert.are.same({ 'notfound:404' }, routes(ctx), uri)
      assert.are.equal(404, ctx.response.status, uri)
      assert.are.same({ '{"error":404}' }, sent, uri)
    end
  end)

  it('does nothing for a status without an entry', function()
    local ctx, sent = request(app(), '/users')
    assert.are.same({ 'other:404' }, routes(ctx))
    assert.are.equal(200, ctx.response.status)
    assert.are.equal(1, #sent)
  end)

  it('falls back to the hundred of a status (503 -> 500) but not across hundreds', function()
    local a = app()
    local m = H.module('lusty.error.status', {
      status = { [500] = { 'request:500' }, ['404'] = { 'request:404' } },
    }, { 'error' })
    local pred = m.options.predicate
    for _, row in ipairs({ { 503, true }, { 500, true }, { 599, true }, { 404, true },
      { 403, false }, { 400, false }, { 200, false }, { 302, false } }) do
      local ctx = H.context()
      ctx.response.status = row[1]
      assert.are.equal(row[2], pred(ctx), tostring(row[1]))
    end
    local ctx = request(a, '/users', 503)
    assert.are.same({ 'other:404', 'notfound:503' }, routes(ctx))
    assert.are.equal(503, ctx.response.status)
  end)

  it('its predicate sets 500 when context.error is set', function()
    local m = H.module('lusty.error.status', { status = { [404] = { 'a' } } }, { 'error' })
    local ctx = H.context()
    ctx.error = { { message = 'x' } }
    assert.is_false(m.options.predicate(ctx))
    assert.are.equal(500, ctx.response.status)
  end)

  it('publishes prefix, status and suffix channels in order, as written, then clears output', function()
    local a = H.app({
      subscribers = {
        error = { ['lusty.error.status'] = {
          prefix = { 'p1', 'p2' },
          status = { [404] = { 's:404', 's:any' } },
          suffix = 'x',
        } },
      },
      publishers = { 'error' },
    })
    local trail = {}
    for _, ch in ipairs({ 'p1', 'p2', 's', 'x' }) do
      a.event:subscribe(ch, function(c)
        trail[#trail + 1] = table.concat(c.channel, ':') .. '/' .. tostring(c.output and c.output.n)
        c.output = { n = (c.output and c.output.n or 0) + 1 }
      end)
    end
    local ctx = H.context({ uri = '/some/path' })
    ctx.response.status = 404
    a:request(ctx)
    assert.are.same({ 'p1:nil', 'p2:1', 's:404:2', 's:any:3', 'x:4' },
      (function() local t = {} for i, v in ipairs(trail) do t[i] = v:gsub('/', ':') end return t end)())
    assert.is_nil(ctx.output)
    assert.is_nil(rawget(ctx, 'channel'))
  end)

  it("an error in the error route propagates with the route's file and line", function()
    local a = app(nil, { { ['404'] = 'routes.raise' } })
    local ctx = request(a, '/nothing')
    assert.are.equal(1, #ctx.error)
    assert.matches('routes/raise.lua:2: route failed', ctx.error[1].message, 1, true)
    assert.matches('raise.lua:2', ctx.error[1].trace, 1, true)
    assert.is_nil(rawget(ctx, 'channel'))
  end)

  it('leaves the status alone when the app has no route for it', function()
    local a = app(nil, { { ['x'] = 'routes.raise' } })
    local ctx, sent = request(a, '/x')
    assert.are.equal(500, ctx.response.status)
    -- The suffix channels still run: here lusty.json.output sends the
    -- output the pipeline started with.
    assert.are.same({ '{}' }, sent)
  end)

  it('refuses a status key that is not a code', function()
    assert.has_error(function()
      H.module('lusty.error.status', { status = { oops = { 'a' } } }, { 'error' })
    end)
  end)
end)
