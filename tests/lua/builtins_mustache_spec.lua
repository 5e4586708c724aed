-- lusty.mustache and the lusty.native render cache (contract section 8,
-- docs/builtins.md).
local H = dofile(debug.getinfo(1, 'S').source:sub(2):match('^(.*/)') .. 'builtins_helper.lua')
local native = require 'lusty.native'

describe('lusty.mustache', function()
  local dir, m

  before_each(function()
    dir = H.tmpdir()
    os.execute("mkdir -p '" .. dir .. "/pages' '" .. dir .. "/partials'")
    H.write(dir .. '/layout.mustache', '<html>{{> head}}<main>{{> content}}</main>{{> extra}}</html>')
    H.write(dir .. '/partials/head.mustache', '<title>{{title}}</title>')
    H.write(dir .. '/pages/list.mustache',
      '{{#users}}<li>{{name}}</li>{{/users}}{{^users}}none{{/users}}{{> shared}}')
    H.write(dir .. '/shared.mustache', '[shared {{title}}]')
    m = H.module('lusty.mustache', { base = dir .. '/' }, { 'render' })
  end)

  after_each(function()
    os.execute("rm -rf '" .. dir .. "'")
  end)

  local function page(opts)
    local ctx = H.context(opts)
    ctx.output = opts.data or { title = 'T', users = { { name = 'Ada' }, { name = '<Bob>' } } }
    ctx.template = opts.template or {
      type = 'mustache', name = 'layout',
      partials = { head = 'partials/head', content = 'pages/list' },
    }
    return ctx
  end

  it('renders the template with context.output and the partials when HTML is accepted', function()
    local ctx = page({ accept = 'text/html,application/xhtml+xml,*/*;q=0.8' })
    local ran, value, continue = H.run(m, ctx)
    assert.is_true(ran)
    assert.is_nil(continue)
    assert.are.equal('<html><title>T</title><main><li>Ada</li><li>&lt;Bob&gt;</li>[shared T]</main></html>',
      ctx.output)
    assert.matches('^text/html', ctx.response.headers['content-type'])
  end)

  it('renders for */*, text/* and no Accept; not for JSON clients', function()
    for _, row in ipairs({
      { 'text/html', true }, { '*/*', true }, { 'text/*', true }, { nil, true },
      { 'application/json', false }, { 'text/html;q=0', false },
    }) do
      local ctx = page({ accept = row[1] })
      assert.are.equal(row[2], (H.run(m, ctx)), tostring(row[1]))
      assert.are.equal(row[2] and 'string' or 'table', type(ctx.output))
    end
  end)

  it('needs a mustache template with a name', function()
    for _, t in ipairs({ false, 'layout', { type = 'other', name = 'layout' }, { type = 'mustache' } }) do
      local ctx = page({ accept = 'text/html' })
      ctx.template = t or nil
      assert.is_false((H.run(m, ctx)))
    end
  end)

  it('uses Lua data: lists, objects, lambdas, cjson.null, and nil output', function()
    H.write(dir .. '/data.mustache', '{{#list}}{{.}},{{/list}}|{{obj.a}}|{{#up}}x{{/up}}|{{^n}}null{{/n}}')
    local ctx = page({ template = { type = 'mustache', name = 'data' }, data = {
      list = { 1, 2.5, 'three' }, obj = { a = 'A' },
      up = function(text) return text:upper() end, n = require('cjson').null,
    } })
    H.run(m, ctx)
    assert.are.equal('1,2.5,three,|A|X|null', ctx.output)
    ctx = page({ template = { type = 'mustache', name = 'shared' } })
    ctx.output = nil
    H.run(m, ctx)
    assert.are.equal('[shared ]', ctx.output)
  end)

  it('caches compiled templates and compiles a file again when it changes', function()
    H.write(dir .. '/v.mustache', 'one {{x}}')
    local function render()
      local ctx = page({ template = { type = 'mustache', name = 'v' }, data = { x = 1 } })
      H.run(m, ctx)
      return ctx.output
    end
    local before = native.compiles()
    assert.are.equal('one 1', render())
    assert.are.equal(before + 1, native.compiles())
    assert.are.equal('one 1', render())
    assert.are.equal('one 1', render())
    assert.are.equal(before + 1, native.compiles())
    H.write(dir .. '/v.mustache', 'two! {{x}}')
    assert.are.equal('two! 1', render())
    assert.are.equal(before + 2, native.compiles())
  end)

  it('reloads a changed partial too', function()
    local function render()
      local ctx = page({ accept = 'text/html' })
      H.run(m, ctx)
      return ctx.output
    end
    assert.matches('<title>T</title>', render(), 1, true)
    H.write(dir .. '/partials/head.mustache', '<title>new {{title}}</title>')
    assert.matches('<title>new T</title>', render(), 1, true)
  end)

  it('renders a partial the table does not name and that has no file as nothing, warning once', function()
    local lines, stderr = {}, io.stderr
    io.stderr = { write = function(_, text) lines[#lines + 1] = text end }
    local ok, err = pcall(function()
      for _ = 1, 3 do
        local ctx = page({ accept = 'text/html' })
        H.run(m, ctx)
        assert.matches('</main></html>$', ctx.output)
      end
    end)
    io.stderr = stderr
    assert(ok, err)
    assert.are.same({ ("lusty.mustache: warning: partial 'extra' of %s/layout.mustache has no file"
      .. " (%s/extra.mustache) and renders as nothing\n"):format(dir, dir) }, lines)
  end)

  it('raises file:line:col for a template that does not compile', function()
    H.write(dir .. '/bad.mustache', 'line one\n{{#open}} never closed')
    local ctx = page({ template = { type = 'mustache', name = 'bad' } })
    local ok, err = pcall(H.run, m, ctx)
    assert.is_false(ok)
    assert.matches(dir .. '/bad.mustache:2:', err, 1, true)
  end)

  it('raises for a missing template or a missing partial file it names', function()
    local ctx = page({ template = { type = 'mustache', name = 'nope' } })
    local ok, err = pcall(H.run, m, ctx)
    assert.is_false(ok)
    assert.matches("cannot open '" .. dir .. "/nope.mustache'", err, 1, true)
    ctx = page({ template = { type = 'mustache', name = 'layout', partials = { content = 'gone' } } })
    ok, err = pcall(H.run, m, ctx)
    assert.is_false(ok)
    assert.matches('gone.mustache', err, 1, true)
  end)

  it('takes base relative to the project root, default app/views', function()
    local root = native.root()
    assert.is_string(root)
    local rel = H.module('lusty.mustache', { base = 'app/views/' }, { 'render' })
    assert.are.equal(root .. '/app/views/x.mustache', rel.file('x'))
    local default = H.module('lusty.mustache', {}, { 'render' })
    assert.are.equal(root .. '/app/views/pages/a.mustache', default.file('pages/a'))
    assert.are.equal(root .. '/app/views/b.mustache', default.file('b.mustache'))
    assert.are.equal('/abs/c.mustache', default.file('/abs/c'))
  end)
end)

describe('lusty.native', function()
  it('has isatty and now', function()
    assert.is_boolean(native.isatty(2))
    local t = native.now()
    assert.is_true(math.abs(t - os.time()) < 5)
  end)

  it('clear() empties the template cache', function()
    local dir = H.tmpdir()
    H.write(dir .. '/c.mustache', 'c')
    local before = native.compiles()
    native.render(dir .. '/c.mustache', nil, {})
    native.render(dir .. '/c.mustache', nil, {})
    assert.are.equal(before + 1, native.compiles())
    native.clear()
    assert.are.equal('c', native.render(dir .. '/c.mustache', nil, {}))
    assert.are.equal(before + 2, native.compiles())
    os.execute("rm -rf '" .. dir .. "'")
  end)
end)
