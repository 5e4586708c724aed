-- End to end: each built-in template rendered with `lusty init`, its app
-- loaded by `lusty exec` in the new project and every route requested
-- through lusty:request with a fake request context (as the HTTP glue will
-- build it), as a browser and as a JSON client.
local H = dofile(debug.getinfo(1, 'S').source:sub(2):match('^(.*/)') .. 'builtins_helper.lua')
local cjson = require 'cjson'

local BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
local JSON = 'application/json'

-- The driver run inside the project: runs each request and prints one
-- JSON line per answer.
local DRIVER = [==[
local cjson = require 'cjson'
local requests = cjson.decode(...)
for _, r in ipairs(requests) do
  if r.crash then
    lusty.event:subscribe('request:' .. r.crash, function() error('crash on purpose') end)
  end
  local sent, suffix = {}, {}
  for part in r.uri:gmatch('[^/]+') do suffix[#suffix + 1] = part end
  local headers = { accept = r.accept, ['content-type'] = r.contentType }
  local ctx = lusty:request({
    request = { method = r.method or 'GET', uri = r.uri, headers = headers, body = r.body },
    response = { status = 200, headers = {}, send = function(b) sent[#sent + 1] = b end },
    suffix = suffix,
  })
  local errors = {}
  for i, e in ipairs(ctx.error or {}) do errors[i] = e.message end
  io.write('RESULT ', cjson.encode({
    status = ctx.response.status, headers = ctx.response.headers, sends = #sent,
    body = table.concat(sent), errors = errors,
  }), '\n')
end
]==]

-- Renders template `name` and runs `requests` in it; returns the answers
-- (in order) and what the app printed on stderr.
local function serve(template, requests)
  local lusty = H.lusty()
  local dir = H.tmpdir() .. '/demo'
  local rc = os.execute(("'%s' init '%s' --template %s --name demo --no-git -q"):format(lusty, dir, template))
  assert(rc == 0 or rc == true, 'lusty init failed')
  H.write(dir .. '/driver.lua', DRIVER)
  H.write(dir .. '/requests.json', cjson.encode(requests))
  local cmd = ("cd '%s' && '%s' exec -e 'local f = io.open(\"requests.json\"); local s = f:read(\"*a\"); f:close(); "
    .. "assert(loadfile(\"driver.lua\"))(s)' 2>stderr.txt"):format(dir, lusty)
  local p = io.popen(cmd)
  local answers = {}
  for line in p:lines() do
    local json = line:match('^RESULT (.*)$')
    if json then answers[#answers + 1] = cjson.decode(json) end
  end
  p:close()
  local stderr = H.read(dir .. '/stderr.txt') or ''
  os.execute("rm -rf '" .. dir:match('^(.*)/demo$') .. "'")
  assert.are.equal(#requests, #answers, 'driver failed: ' .. stderr)
  -- Under the sanitizers, a report from the child fails the spec.
  assert.is_nil(stderr:find('Sanitizer', 1, true), stderr)
  assert.is_nil(stderr:find('runtime error:', 1, true), stderr)
  return answers, stderr
end

local function contentType(answer)
  return answer.headers['content-type'] or ''
end

describe('the default template', function()
  local paths = { '/', '/users', '/users/1', '/users/999', '/nowhere', '/boom' }
  local statuses = { 200, 200, 200, 404, 404, 500 }
  local requests = {}
  for _, accept in ipairs({ BROWSER, JSON }) do
    for _, path in ipairs(paths) do requests[#requests + 1] = { uri = path, accept = accept } end
  end
  requests[#requests + 1] = { uri = '/users/', accept = JSON }
  requests[#requests + 1] = { uri = '/users/2' } -- no Accept: HTML

  local answers, stderr
  setup(function() answers, stderr = serve('default', requests) end)

  it('answers every route as HTML pages with the layout for a browser', function()
    for i, path in ipairs(paths) do
      local a = answers[i]
      assert.are.equal(statuses[i], a.status, path)
      assert.are.same({}, path == '/boom' and {} or a.errors, path)
      assert.are.equal(1, a.sends, path)
      assert.matches('^text/html', contentType(a), path)
      assert.matches('^<!doctype html>', a.body, path)
      assert.matches('<title>demo</title>', a.body, 1, true)
      assert.matches('<footer class="site-footer">', a.body, 1, true)
    end
    assert.matches('<h1>Welcome to demo</h1>', answers[1].body, 1, true)
    assert.matches('<a href="/users/3">Grace Hopper</a>', answers[2].body, 1, true)
    assert.matches('<h1>Ada Lovelace</h1>', answers[3].body, 1, true)
    assert.matches('mailto:ada@example.com', answers[3].body, 1, true)
  end)

  it("shows the app's 404 page for an unknown user and an unknown URL", function()
    assert.matches('<h1>404 Not Found</h1>', answers[4].body, 1, true)
    assert.matches('<code>/users/999</code>', answers[4].body, 1, true)
    assert.matches('<h1>404 Not Found</h1>', answers[5].body, 1, true)
    assert.matches('<code>/nowhere</code>', answers[5].body, 1, true)
  end)

  it("shows the app's 500 page for /boom with status 500, without the error text", function()
    local a = answers[6]
    assert.are.equal(500, a.status)
    assert.matches('<h1>500 Internal Server Error</h1>', a.body, 1, true)
    assert.is_nil(a.body:find('on purpose', 1, true))
    assert.matches('requests/boom.lua:7: boom: this route fails on purpose', a.errors[1], 1, true)
  end)

  it('answers the same routes as JSON to a JSON client', function()
    local n = #paths
    for i, path in ipairs(paths) do
      local a = answers[n + i]
      assert.are.equal(statuses[i], a.status, path)
      assert.are.equal(1, a.sends, path)
      assert.are.equal('application/json', contentType(a), path)
    end
    local d = function(i) return cjson.decode(answers[n + i].body) end
    assert.are.equal('Welcome to demo', d(1).message)
    assert.are.equal(3, #d(1).links)
    assert.are.equal(3, #d(2).users)
    assert.are.equal('Ada Lovelace', d(2).users[1].name)
    assert.are.same({ id = '1', name = 'Ada Lovelace', email = 'ada@example.com' }, d(3).user)
    assert.are.same({ status = 404, message = 'Not Found', path = '/users/999' }, d(4).error)
    assert.are.same({ status = 404, message = 'Not Found', path = '/nowhere' }, d(5).error)
    assert.are.same({ status = 500, message = 'Internal Server Error' }, d(6).error)
  end)

  it('accepts a trailing / and renders HTML when there is no Accept header', function()
    local n = #paths * 2
    assert.are.equal(200, answers[n + 1].status)
    assert.are.equal(3, #cjson.decode(answers[n + 1].body).users)
    assert.matches('<h1>Alan Turing</h1>', answers[n + 2].body, 1, true)
  end)

  it('logs on the console through lusty.log and lusty.log.console', function()
    -- The template logs at level info and up: the route's debug line is
    -- dropped (the access log already lists every request).
    assert.is_nil(stderr:find('listed 3 users', 1, true))
    assert.matches('INFO%s+no user with id 999', stderr)
    assert.matches('ERROR%s+[^\n]*requests/boom.lua:7: boom: this route fails on purpose', stderr)
  end)
end)

describe('the api template', function()
  local requests = {
    { uri = '/' },
    { uri = '/users', accept = JSON },
    { uri = '/users/1', accept = JSON },
    { uri = '/users/999', accept = JSON },
    { uri = '/nope', accept = BROWSER },
    { method = 'POST', uri = '/users', contentType = JSON, body = '{"name":"Edsger","email":"e@example.com"}' },
    { uri = '/users/2' },
    { uri = '/users' },
    { method = 'POST', uri = '/users', contentType = JSON, body = '{not json' },
    { method = 'POST', uri = '/users', contentType = JSON, body = '{"email":"x@example.com"}' },
    { method = 'DELETE', uri = '/users' },
    { method = 'POST', uri = '/users/1' },
    { uri = '/crash', crash = 'crash' },
  }
  local answers, stderr
  setup(function() answers, stderr = serve('api', requests) end)

  local function body(i) return cjson.decode(answers[i].body) end

  it('answers JSON on every route, whatever the Accept header', function()
    for i, a in ipairs(answers) do
      assert.are.equal('application/json', contentType(a), requests[i].uri)
      assert.are.equal(1, a.sends, requests[i].uri)
    end
  end)

  it('serves GET /, /users and /users/{id}', function()
    assert.are.equal(200, answers[1].status)
    assert.are.equal('demo', body(1).name)
    assert.are.equal(200, answers[2].status)
    assert.are.equal(2, #body(2))
    assert.are.same({ id = '1', name = 'Ada Lovelace', email = 'ada@example.com' }, body(3))
  end)

  it("answers unknown users and URLs with the app's 404", function()
    assert.are.equal(404, answers[4].status)
    assert.are.same({ error = 'not found', path = '/users/999' }, body(4))
    assert.are.equal(404, answers[5].status)
    assert.are.same({ error = 'not found', path = '/nope' }, body(5))
  end)

  it('creates a user with POST /users, kept in the store with an ObjectId', function()
    assert.are.equal(201, answers[6].status)
    local id = body(6).id
    assert.matches('^%x+$', id)
    assert.are.equal(24, #id)
    assert.are.equal('/users/' .. id, answers[6].headers.location)
    assert.are.same({ id = id, name = 'Edsger', email = 'e@example.com' }, body(6))
    assert.are.equal('Alan Turing', body(7).name)
    assert.are.equal(3, #body(8))
    assert.are.same(body(6), body(8)[3])
    assert.matches('INFO%s+created user ' .. id, stderr)
  end)

  it('refuses bad bodies with 400 and other methods with 405', function()
    assert.are.equal(400, answers[9].status)
    assert.are.equal('bad request', body(9).error)
    assert.are.same({}, answers[9].errors)
    assert.are.equal(400, answers[10].status)
    assert.are.equal(405, answers[11].status)
    assert.are.equal('GET, POST', answers[11].headers.allow)
    assert.are.equal(405, answers[12].status)
    assert.are.equal('GET', answers[12].headers.allow)
  end)

  it("answers a handler error with the app's 500 and logs it", function()
    assert.are.equal(500, answers[13].status)
    assert.are.same({ error = 'internal server error' }, body(13))
    assert.matches('ERROR%s+[^\n]*crash on purpose', stderr)
  end)
end)

describe('the minimal template', function()
  local answers
  setup(function()
    answers = serve('minimal', { { uri = '/' }, { uri = '/', accept = JSON }, { uri = '/other' } })
  end)

  it('answers / with its greeting as HTML', function()
    for i = 1, 2 do
      assert.are.equal(200, answers[i].status)
      assert.are.equal('Hello from demo!', answers[i].body)
      assert.matches('^text/html', contentType(answers[i]))
    end
  end)

  it('leaves any other path unanswered with status 404', function()
    assert.are.equal(404, answers[3].status)
    assert.are.equal(0, answers[3].sends)
  end)
end)
