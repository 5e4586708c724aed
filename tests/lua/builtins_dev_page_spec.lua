-- lusty.error.dev_page: the development error page (docs/dev-loop.md).
local H = dofile(debug.getinfo(1, 'S').source:sub(2):match('^(.*/)') .. 'builtins_helper.lua')
local page = require 'lusty.error.dev_page'

describe('lusty.error.dev_page', function()
  local root, src
  before_each(function()
    root = H.tmpdir()
    os.execute("mkdir -p '" .. root .. "/app/requests'")
    local lines = {}
    for i = 1, 12 do lines[i] = ('local line%d = %d'):format(i, i) end
    lines[7] = "error('boom <b>')"
    src = table.concat(lines, '\n') .. '\n'
    H.write(root .. '/app/requests/boom.lua', src)
  end)
  after_each(function() os.execute("rm -rf '" .. root .. "'") end)

  it('finds the app file and line of an error, skipping the runtime', function()
    assert.are.same({ 'app/requests/boom.lua', 7 },
      { page.location('app/requests/boom.lua:7: boom', nil) })
    assert.are.same({ 'app/x.lua', 3 }, { page.location('boom',
      "stack traceback:\n\t[C]: in function 'error'\n\t<builtin>/lusty/init.lua:92: in x\n"
      .. '\tapp/x.lua:3: in main chunk') })
    assert.is_nil(page.location('no place', nil))
  end)

  it('shows the error, file, line, the lines around it, the traceback and the request', function()
    local html = page.render({ {
      message = "app/requests/boom.lua:7: boom <b>",
      trace = "stack traceback:\n\tapp/requests/boom.lua:7: in main chunk",
    } }, { method = 'GET', uri = '/boom', queryString = 'a=1',
      headers = { accept = 'text/html', ['x-b'] = '<y>' } }, root)
    assert.matches('<h1>app/requests/boom.lua:7: boom &lt;b&gt;</h1>', html, 1, true)
    assert.matches('app/requests/boom.lua, line 7', html, 1, true)
    assert.matches('<span class="here"> 7  error(&#39;boom &lt;b&gt;&#39;)</span>', html, 1, true)
    assert.matches('<span> 2  local line2 = 2</span>', html, 1, true)
    assert.matches('<span>12  local line12 = 12</span>', html, 1, true)
    assert.is_nil(html:find('line1 = 1<', 1, true))
    assert.matches('<pre class="trace">stack traceback:', html, 1, true)
    assert.matches('<tr><th>method</th><td>GET</td></tr>', html, 1, true)
    assert.matches('<tr><th>x-b</th><td>&lt;y&gt;</td></tr>', html, 1, true)
    assert.matches('<tr><th>query</th><td>a=1</td></tr>', html, 1, true)
  end)

  it('still shows the message when the file cannot be read', function()
    local html = page.render({ { message = 'app/gone.lua:3: x' } }, nil, root)
    assert.matches('app/gone.lua, line 3', html, 1, true)
    assert.is_nil(html:find('class="src"', 1, true))
  end)
end)
