-- The users, kept in the project's store: documents of the `users`
-- collection, reached through context.store (the lusty.store context
-- module, app/config.lua). lusty.json's "store" says which database holds
-- them: SQLite in data/store.sqlite3 by default, MongoDB with
-- "store": { "backend": "mongodb" }.
--
-- A store call looks synchronous but only this request waits for it; the
-- server goes on with other requests meanwhile.
local query = require 'lusty.store.query'

-- Three sample users, written once when the collection is empty. Their
-- _id is fixed, so two workers starting at once write the same documents
-- (put inserts or replaces the document with that _id).
local SAMPLES = {
  { _id = '1', name = 'Ada Lovelace', email = 'ada@example.com' },
  { _id = '2', name = 'Alan Turing', email = 'alan@example.com' },
  { _id = '3', name = 'Grace Hopper', email = 'grace@example.com' },
}

local seeded = false

local function users(context)
  local collection = context.store.users
  if not seeded then
    if collection.options({}) == 0 then
      for _, user in ipairs(SAMPLES) do collection.put({ _id = user._id }, user) end
    end
    seeded = true
  end
  return collection
end

-- A stored document as the pages show it: its _id is the user's id.
local function public(doc)
  return { id = doc._id, name = doc.name, email = doc.email }
end

local M = {}

-- All users, in id order.
function M.all(context)
  local out = {}
  for i, doc in ipairs(users(context).get(query.sort({ _id = 1 }))) do
    out[i] = public(doc)
  end
  return out
end

-- The user with this id (from the URL, a string), or nil. The builder
-- passes it as a value: it is compared, never run as a query.
function M.find(context, id)
  local doc = users(context).get(query._id.eq(tostring(id)))[1]
  return doc and public(doc) or nil
end

return M
