-- lusty.store.backend (contract section 9; docs/store.md): the built-in
-- store backend, a handler module subscribed on `store` (every
-- collection) or `store:<collection>` (one).
--
--   ['store'] = { 'lusty.store.backend' },
--
-- It takes the payload of context.store (lusty.store, or the original
-- lusty-store.context.store) { method, collection, query, data }, turns
-- it into one canonical operation (below), checks it, and has the C side
-- run it off the event loop (lusty.native.store_run): only the calling
-- request waits. It answers the method's result, or raises an error
-- naming the backend, the collection and the cause, with `status` 400
-- (a bad query), 503 (the store is unavailable or locked) or 500, which
-- lusty.error.status gives the response.
--
-- Which backend, from lusty.json: store.collections.<name>.backend, else
-- store.backend, else "sqlite"; SQLite's file is store.path (default
-- data/store.sqlite3 under the project); MongoDB's server is
-- $LUSTY_MONGODB_URI, else mongodb.uri. The subscriber's config may set
-- any of `backend`, `path`, `busy_timeout_ms`, `uri`, `database`, and
-- `collection` (used instead of the payload's).
--
-- The query's two forms, and what is checked, are lusty.store.operation's.
local cjson = require 'cjson'
local native = require 'lusty.native'
local operation = require 'lusty.store.operation'

local type, pairs, ipairs, tostring, error, setmetatable, getmetatable, sort, concat =
  type, pairs, ipairs, tostring, error, setmetatable, getmetatable, table.sort, table.concat
local null = cjson.null

local KNOWN_METHODS = 'get, post, put, patch, delete, options'
local METHODS = { get = true, post = true, put = true, patch = true, delete = true, options = true }

-- ---- errors ----

local StoreError = {}
StoreError.__index = StoreError
StoreError.__tostring = function(e) return e.message end

local STATUS = { invalid = 400, unavailable = 503, locked = 503 }

-- Raises the store error of `kind` ("invalid", "unavailable", ...).
local function raise(backend, collection, kind, cause)
  error(setmetatable({
    message = ('store: %s \'%s\': %s'):format(backend or '?', tostring(collection), cause),
    status = STATUS[kind] or 500,
    kind = kind,
    backend = backend,
    collection = collection,
    cause = cause,
    -- An outage is said once on the console (store_glue.c), not again
    -- for every request that the app answered with its 503.
    logged = kind == 'unavailable' or kind == 'locked',
  }, StoreError), 0)
end

-- ---- settings (lusty.json) ----

local root = native.root() or '.'

local function object(v)
  return type(v) == 'table' and v or {}
end

local manifest = require 'lusty.manifest'

-- JSON with sorted keys, so that equal settings give equal text (the C
-- side shares one backend per backend name and settings text).
local function canonical(v)
  if type(v) ~= 'table' or v == null then return cjson.encode(v) end
  if #v > 0 then
    local parts = {}
    for i = 1, #v do parts[i] = canonical(v[i]) end
    return '[' .. concat(parts, ',') .. ']'
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = cjson.encode(k) .. ':' .. canonical(v[k]) end
  return '{' .. concat(parts, ',') .. '}'
end

local handles = {}

-- The backend name and native handle of a collection.
local function backendOf(collection)
  local cached = handles[collection]
  if cached then return cached[1], cached[2] end
  local store = object(manifest.store)
  local per = object(object(store.collections)[collection])
  local name = config.backend or per.backend or store.backend or 'sqlite'
  local settings
  if name == 'sqlite' then
    settings = {
      path = config.path or per.path or store.path or 'data/store.sqlite3',
      busy_timeout_ms = config.busy_timeout_ms or store.busy_timeout_ms,
      synchronous = store.synchronous,
      indexes = store.indexes,
    }
  elseif name == 'mongodb' then
    local mongodb = object(manifest.mongodb)
    settings = {
      uri = config.uri or os.getenv('LUSTY_MONGODB_URI') or mongodb.uri,
      database = config.database or per.database or store.database or mongodb.database,
      indexes = store.indexes,
    }
  else
    raise(tostring(name), collection, 'invalid', "unknown backend (known: sqlite, mongodb)")
  end
  local handle = native.store_open(name, canonical(settings), root)
  handles[collection] = { name, handle }
  return name, handle
end

local run = native.store_run

local function handler(payload)
  if type(payload) ~= 'table' then
    raise(nil, '?', 'invalid', 'the payload is not a table')
  end
  local collection = config.collection or payload.collection
  local method = payload.method
  if type(method) == 'string' then method = method:lower() end
  -- A collection with a handle was checked when it got it.
  if not handles[collection] and (type(collection) ~= 'string'
      or not collection:find('^[%w_.-]+$') or #collection > 120) then
    raise(nil, tostring(collection), 'invalid',
      'a collection name is 1 to 120 letters, digits, _, . and -')
  end
  local backend, handle = backendOf(collection)
  if not METHODS[method] then
    raise(backend, collection, 'invalid',
      ("unknown method '%s' (known: %s)"):format(tostring(method), KNOWN_METHODS))
  end
  local ok, op = pcall(operation.make, method, collection, payload.query, payload.data)
  if not ok then
    if getmetatable(op) == operation.Invalid then raise(backend, collection, 'invalid', op.message) end
    error(op, 0)
  end
  local encoded
  ok, encoded = pcall(cjson.encode, op)
  if not ok then
    raise(backend, collection, 'invalid', 'cannot be written as JSON: ' .. tostring(encoded))
  end
  -- Reads asked for together may share one snapshot (the C side runs
  -- them in one read transaction).
  local done, answer, message = run(handle, collection, encoded, method == 'get' or method == 'options')
  if not done then raise(backend, collection, answer, message) end
  return answer
end

return { handler = handler }
