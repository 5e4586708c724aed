-- lusty.json.input, lusty.form.input, lusty.json.output and lusty.html
-- (contract section 8, docs/builtins.md).
local H = dofile(debug.getinfo(1, 'S').source:sub(2):match('^(.*/)') .. 'builtins_helper.lua')
local cjson = require 'cjson'

describe('lusty.json.input', function()
  local m = H.module('lusty.json.input', {}, { 'input' })

  it('decodes a JSON body into context.input and lets the publish go on', function()
    local ctx = H.context({ method = 'POST', body = '{"name":"Ada","tags":[1,2]}',
      contentType = 'application/json; charset=utf-8' })
    local ran, value, continue = H.run(m, ctx)
    assert.is_true(ran)
    assert.is_nil(value)
    assert.is_true(continue)
    assert.are.same({ name = 'Ada', tags = { 1, 2 } }, ctx.input)
  end)

  it('decodes when there is no content type, and +json types', function()
    local ctx = H.context({ method = 'POST', body = '[1,2,3]' })
    H.run(m, ctx)
    assert.are.same({ 1, 2, 3 }, ctx.input)
    ctx = H.context({ method = 'POST', body = '"x"', contentType = 'application/merge-patch+json' })
    H.run(m, ctx)
    assert.are.equal('x', ctx.input)
  end)

  it('leaves input alone for other content types, no body or an empty one', function()
    for _, opts in ipairs({
      { body = '{"a":1}', contentType = 'text/plain' },
      { body = 'a=1', contentType = 'application/x-www-form-urlencoded' },
      { body = nil, contentType = 'application/json' },
      { body = '', contentType = 'application/json' },
    }) do
      local ctx = H.context(opts)
      local input = ctx.input
      H.run(m, ctx)
      assert.are.equal(input, ctx.input)
      assert.are.same({}, ctx.input)
    end
  end)

  it('leaves input empty on a body that does not decode, without failing', function()
    local ctx = H.context({ body = '{bad json', contentType = 'application/json' })
    local ran, _, continue = H.run(m, ctx)
    assert.is_true(ran)
    assert.is_true(continue)
    assert.are.same({}, ctx.input)
  end)

  it('runs in an app pipeline without failing the request', function()
    local app = H.app({ subscribers = { input = { 'lusty.json.input' } }, publishers = { 'input' } })
    local ctx = H.context({ uri = '/users', body = 'nope', contentType = 'application/json' })
    app:request(ctx)
    assert.is_nil(ctx.error)
    ctx = H.context({ uri = '/users', body = '{"a":true}' })
    app:request(ctx)
    assert.are.same({ a = true }, ctx.input)
  end)
end)

describe('lusty.form.input', function()
  local m = H.module('lusty.form.input', {}, { 'input' })
  local form = 'application/x-www-form-urlencoded'

  it('decodes a urlencoded body into context.input', function()
    local ctx = H.context({ body = 'name=Ada+Lovelace&email=ada%40example.com&empty=&flag', contentType = form })
    local _, value, continue = H.run(m, ctx)
    assert.is_nil(value)
    assert.is_true(continue)
    assert.are.same({ name = 'Ada Lovelace', email = 'ada@example.com', empty = '', flag = true }, ctx.input)
  end)

  it('gives a repeated name the list of its values and decodes names too', function()
    local ctx = H.context({ body = 'a=1&a=2&a=3&b%5B%5D=x', contentType = form .. '; charset=UTF-8' })
    H.run(m, ctx)
    assert.are.same({ a = { '1', '2', '3' }, ['b[]'] = 'x' }, ctx.input)
  end)

  it('adds to the existing input table', function()
    local ctx = H.context({ body = 'b=2', contentType = form })
    ctx.input.a = 1
    H.run(m, ctx)
    assert.are.same({ a = 1, b = '2' }, ctx.input)
  end)

  it('ignores other content types and empty bodies', function()
    for _, opts in ipairs({ { body = 'a=1' }, { body = 'a=1', contentType = 'application/json' },
      { body = '', contentType = form } }) do
      local ctx = H.context(opts)
      H.run(m, ctx)
      assert.are.same({}, ctx.input)
    end
  end)
end)

describe('lusty.json.output', function()
  local m = H.module('lusty.json.output', {}, { 'output' })

  local function answer(module, opts)
    local ctx, sent = H.context(opts)
    local ran, value, continue = H.run(module, ctx)
    return ctx, sent, ran, continue
  end

  it('sends context.output as JSON when the client accepts application/json', function()
    local ctx, sent, ran, continue = answer(m, { accept = 'application/json', output = { a = 1 } })
    assert.is_true(ran)
    assert.is_nil(continue)
    assert.are.same({ '{"a":1}' }, sent)
    assert.are.equal('application/json', ctx.response.headers['content-type'])
  end)

  it('follows the Accept rules', function()
    for _, row in ipairs({
      { { accept = 'application/json' }, true },
      { { accept = 'text/html, application/json;q=0.9' }, true },
      { { accept = '*/*' }, true },
      { { accept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' }, true },
      { { accept = 'text/html' }, false },
      { { accept = 'application/json;q=0' }, false },
      { { accept = 'APPLICATION/JSON' }, true },
      { { headers = { accept = { 'text/html', 'application/json' } } }, true },
      { {}, false },
      { { contentType = 'application/json' }, true },
      { { contentType = 'text/plain' }, false },
      { { accept = 'text/html', contentType = 'application/json' }, false },
    }) do
      local opts = row[1]
      opts.output = { x = 1 }
      local _, sent, ran = answer(m, opts)
      assert.are.equal(row[2], ran, cjson.encode(opts))
      assert.are.equal(row[2] and 1 or 0, #sent)
    end
  end)

  it('does not answer once a body was sent, nor for a redirect without output', function()
    local ctx, sent = H.context({ accept = 'application/json' })
    ctx.response.sent = true
    assert.is_false(H.run(m, ctx))
    for _, status in ipairs({ 301, 303, 307, 204, 304 }) do
      ctx, sent = H.context({ accept = 'application/json' })
      ctx.response.status = status
      assert.is_false(H.run(m, ctx), status)
      assert.are.same({}, sent)
    end
    ctx, sent = H.context({ accept = 'application/json', output = { moved = true } })
    ctx.response.status = 303
    assert.is_true(H.run(m, ctx))
    local html = H.module('lusty.html', {}, { 'output' })
    ctx = H.context({ output = '<p>page</p>' })
    ctx.response.sent = true
    assert.is_false(H.run(html, ctx))
  end)

  it('does not answer when output is nil', function()
    local ctx, sent = H.context({ accept = 'application/json' })
    ctx.output = nil
    assert.is_false(H.run(m, ctx))
    assert.are.same({}, sent)
    local always = H.module('lusty.json.output', { default = true }, { 'output' })
    assert.is_false(H.run(always, ctx))
  end)

  it('answers whatever the Accept header says with default = true', function()
    local always = H.module('lusty.json.output', { default = true }, { 'output' })
    local _, sent, ran = answer(always, { accept = 'text/html', output = { 1, 2 } })
    assert.is_true(ran)
    assert.are.same({ '[1,2]' }, sent)
    _, sent = answer(always, { output = 'text' })
    assert.are.same({ '"text"' }, sent)
  end)

  it('encodes empty tables as [] with empty_as_array, without changing the data', function()
    local arrays = H.module('lusty.json.output', { default = true, empty_as_array = true }, { 'output' })
    local _, sent = answer(arrays, { output = {} })
    assert.are.same({ '[]' }, sent)
    local data = { users = {}, nested = { list = {}, n = 1 } }
    local ctx
    ctx, sent = answer(arrays, { output = data })
    assert.are.same({ users = {}, nested = { list = {}, n = 1 } }, cjson.decode(sent[1]))
    assert.matches('"users":[]', sent[1], 1, true)
    assert.matches('"list":[]', sent[1], 1, true)
    assert.are.equal(data, ctx.output)
    assert.are.same({}, data.users)
    _, sent = answer(m, { accept = '*/*', output = {} })
    assert.are.same({ '{}' }, sent)
  end)

  it('keeps a content type set by a handler', function()
    local ctx, sent = H.context({ accept = '*/*', output = { a = 1 } })
    ctx.response.headers['Content-Type'] = 'application/problem+json'
    H.run(m, ctx)
    assert.are.equal('application/problem+json', ctx.response.headers['Content-Type'])
    assert.is_nil(ctx.response.headers['content-type'])
    assert.are.equal(1, #sent)
  end)
end)

describe('lusty.html', function()
  local m = H.module('lusty.html', {}, { 'output' })

  it('sends a string output as HTML and ends the publish', function()
    local ctx, sent = H.context({ output = '<p>hi</p>' })
    local ran, value, continue = H.run(m, ctx)
    assert.is_true(ran)
    assert.is_nil(continue)
    assert.are.same({ '<p>hi</p>' }, sent)
    assert.matches('^text/html', ctx.response.headers['content-type'])
  end)

  it('skips output that is not a string', function()
    for _, output in ipairs({ {}, 42, false }) do
      local ctx, sent = H.context({ output = output })
      assert.is_false(H.run(m, ctx))
      assert.are.same({}, sent)
    end
  end)

  it('keeps a content type set by a handler', function()
    local ctx = H.context({ output = 'plain' })
    ctx.response.headers['content-type'] = 'text/plain'
    H.run(m, ctx)
    assert.are.equal('text/plain', ctx.response.headers['content-type'])
  end)

  it('comes before lusty.json.output: HTML for strings, JSON for tables', function()
    local app = H.app({
      subscribers = { output = { 'lusty.html', 'lusty.json.output' } },
      publishers = { 'output' },
    })
    local ctx, sent = H.context({ accept = '*/*', output = '<b>page</b>' })
    app:request(ctx)
    assert.are.same({ '<b>page</b>' }, sent)
    ctx, sent = H.context({ accept = '*/*', output = { page = 1 } })
    app:request(ctx)
    assert.are.same({ '{"page":1}' }, sent)
  end)
end)

describe('lusty.negotiate.accepts', function()
  local negotiate = require 'lusty.negotiate'
  local function req(accept) return { headers = { accept = accept } } end

  it('gives the same answers when a value is seen again (parsed once, cached)', function()
    local cases = {
      { 'application/json', true, false },
      { 'text/html;q=0, application/json', true, false },
      { 'application/json;q=0,text/html', false, true },
      { 'TEXT/HTML ; q = 0.5', false, true },
      { 'image/png', false, false },
      { '*/*;q=0.0', false, false },
      { '   ', nil, nil },
    }
    for round = 1, 3 do
      for _, c in ipairs(cases) do
        assert.are.equal(c[2], negotiate.accepts(req(c[1]), negotiate.JSON), c[1] .. ' ' .. round)
        assert.are.equal(c[3], negotiate.accepts(req(c[1]), negotiate.HTML), c[1] .. ' ' .. round)
      end
    end
    assert.is_nil(negotiate.accepts({ headers = {} }, negotiate.JSON))
  end)

  it('reads the set of types at each call, and survives many distinct values', function()
    local types = {}
    assert.is_false(negotiate.accepts(req('application/x-a'), types))
    types['application/x-a'] = true
    assert.is_true(negotiate.accepts(req('application/x-a'), types))
    for i = 1, 300 do
      assert.is_true(negotiate.accepts(req('application/x-' .. i .. ', application/json'), negotiate.JSON))
    end
  end)
end)
