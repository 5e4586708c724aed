-- How lusty.store.backend is configured and wired (docs/store.md), on
-- SQLite: a backend for one collection, the subscriber's config over
-- lusty.json, the original module's payload, errors before any database.
-- The API itself is store_spec.lua's, which runs on every backend.
local cjson = require 'cjson'

local tmp = os.tmpname()
local files = {}
local function dbfile(name)
  local path = tmp .. '.' .. name .. '.sqlite3'
  files[#files + 1] = path
  return path
end

teardown(function()
  os.remove(tmp)
  for _, f in ipairs(files) do
    for _, s in ipairs({ '', '-wal', '-shm' }) do os.remove(f .. s) end
  end
end)

local function app()
  local a = require 'lusty'()
  a:addContext('lusty.store', {})
  return a
end

describe('lusty.store.backend', function()
  it('serves one collection from store:<collection>, another from store', function()
    local a = app()
    local special, general = dbfile('special'), dbfile('general')
    a:subscribe('store:special', 'lusty.store.backend', { path = special })
    a:subscribe('store', 'lusty.store.backend', { path = general })
    local store = a.context.store
    store.special.post({ where = 'special' })
    store.other.post({ where = 'general' })
    assert.are.equal(1, store.special.options({}))
    assert.are.equal(1, store.other.options({}))
    -- Each file holds only its own collection.
    local b = app()
    b:subscribe('store', 'lusty.store.backend', { path = special })
    assert.are.equal(1, b.context.store.special.options({}))
    assert.are.equal(0, b.context.store.other.options({}))
  end)

  it('uses config.collection instead of the payload\'s', function()
    local a = app()
    local path = dbfile('renamed')
    a:subscribe('store:alias', 'lusty.store.backend', { path = path, collection = 'real' })
    a:subscribe('store', 'lusty.store.backend', { path = path })
    a.context.store.alias.post({ n = 1 })
    assert.are.equal(1, a.context.store.real.options({}))
    assert.are.equal(0, a.context.store.alias2.options({}))
  end)

  it('answers the payload of the original context module (publish on store:<c>:<m>)', function()
    local a = app()
    a:subscribe('store', 'lusty.store.backend', { path = dbfile('original') })
    local results = a:publish({ 'store', 'things', 'post' },
      { method = 'post', collection = 'things', query = { n = 1 } })
    assert.are.equal(1, #results)
    assert.are.equal(1, results[1].n)
    results = a:publish({ 'store', 'things', 'get' },
      { method = 'GET', collection = 'things', query = { { field = 'n', operation = 'eq', arguments = { 1 } } } })
    assert.are.equal(1, #results[1])
  end)

  it('takes queries whose metatable answers any key, as the original builder\'s do', function()
    local a = app()
    a:subscribe('store', 'lusty.store.backend', { path = dbfile('original-builder') })
    local docs = a.context.store.docs
    docs.post({ n = 1 })
    docs.post({ n = 2 })
    -- Indexing such a query gives the query back, whatever the key.
    local mt = { __index = function(self) return self end }
    local q = setmetatable({ { field = 'n', operation = 'eq', arguments = { 2 } } }, mt)
    local empty = setmetatable({}, mt)
    assert.are.equal(2, docs.get(q)[1].n)
    assert.are.equal(2, #docs.get(empty))
    assert.are.equal(1, docs.options(q))
  end)

  it('refuses an unknown backend and a bad collection name before opening anything', function()
    local a = app()
    a:subscribe('store', 'lusty.store.backend', { backend = 'redis' })
    local ok, err = pcall(a.context.store.users.get, {})
    assert.is_false(ok)
    assert.are.equal(400, err.status)
    assert.matches("unknown backend (known: sqlite, mongodb)", tostring(err), 1, true)
    local b = app()
    b:subscribe('store', 'lusty.store.backend', { path = dbfile('names') })
    for _, name in ipairs({ 'with space', 'quote"d', ('x'):rep(121), 'sqlite_master' }) do
      ok, err = pcall(b.context.store[name].get, {})
      assert.is_false(ok, name)
      assert.are.equal(400, err.status, name)
    end
  end)

  it('answers 503 naming the file when it cannot be opened', function()
    local a = app()
    a:subscribe('store', 'lusty.store.backend', { path = '/proc/no/such/place/store.sqlite3' })
    local ok, err = pcall(a.context.store.users.get, {})
    assert.is_false(ok)
    assert.are.equal(503, err.status)
    assert.are.equal('unavailable', err.kind)
    assert.matches("store: sqlite 'users': ", tostring(err), 1, true)
    assert.matches('/proc/no/such/place', tostring(err), 1, true)
  end)

  it('keeps documents as JSON text that SQLite\'s own functions read', function()
    local a = app()
    a:subscribe('store', 'lusty.store.backend', { path = dbfile('json') })
    local doc = a.context.store.docs.post({ a = { b = 1 }, list = { 1, 2 } })
    assert.are.same(doc, a.context.store.docs.get({ ['a.b'] = 1 })[1])
    assert.are.same(cjson.decode(cjson.encode(doc)), doc)
  end)
end)
