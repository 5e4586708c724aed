-- The users, kept in the project's store: documents of the `users`
-- collection, reached through context.store (the lusty.store context
-- module, app/config.lua). Which database holds them is lusty.json's
-- "store": SQLite in data/store.sqlite3 by default, MongoDB with
-- "store": { "backend": "mongodb" }. Every worker sees the same users, and
-- they outlast reloads and restarts.
--
-- A store call looks synchronous but only this request waits for it; the
-- server goes on with other requests meanwhile.
local query = require 'lusty.store.query'

-- Two sample users, written once when the collection is empty. Their _id
-- is fixed, so two workers starting at once write the same two documents
-- (put inserts or replaces the document with that _id).
local SAMPLES = {
  { _id = '1', name = 'Ada Lovelace', email = 'ada@example.com' },
  { _id = '2', name = 'Alan Turing', email = 'alan@example.com' },
}

local seeded = false

-- The users collection, with the samples in it the first time.
local function users(lusty)
  local collection = lusty.context.store.users
  if not seeded then
    if collection.options({}) == 0 then
      for _, user in ipairs(SAMPLES) do collection.put({ _id = user._id }, user) end
    end
    seeded = true
  end
  return collection
end

-- A stored document as the API shows it: its _id is the user's id.
local function public(doc)
  return { id = doc._id, name = doc.name, email = doc.email }
end

local store = {}

-- Every user, oldest first (ids are the samples' '1' and '2', then
-- ObjectIds, which begin with their creation time).
function store.list(lusty)
  local out = {}
  for i, doc in ipairs(users(lusty).get(query.sort({ _id = 1 }))) do
    out[i] = public(doc)
  end
  return out
end

-- The user with this id, or nil. The builder passes the id as a value:
-- whatever the URL holds, it is compared, never run as a query.
function store.get(lusty, id)
  local doc = users(lusty).get(query._id.eq(tostring(id)))[1]
  return doc and public(doc) or nil
end

-- Adds a user from already validated fields and returns it.
function store.create(lusty, fields)
  return public(users(lusty).post({ name = fields.name, email = fields.email }))
end

return store
