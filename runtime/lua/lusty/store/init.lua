-- lusty.store (contract section 9; docs/store.md): a context module that
-- adds context.store, the app's way to its documents.
--
--   context = { ['lusty.store'] = {} }
--   local users = context.store.users.get({ name = 'Ada' })
--
-- context.store.<collection>.<method>(query, data) publishes on
-- store:<collection>:<method> the payload
-- { method = <method>, collection = <collection>, query = query, data = data }
-- and returns what the subscribers answered, flattened into one array: a
-- result that is a non-empty array gives its elements, and any other
-- result (a document, a count, an empty array) is returned as it is and
-- ends the flattening. With no subscriber it returns an empty table.
--
-- Whatever answers on `store` does the work: lusty.store.backend (SQLite or
-- MongoDB, after lusty.json), or any handler module an app subscribes
-- there. This is what the original lusty-store.context.store did, so apps
-- may use either with the same backends.
local type, setmetatable, rawget, tostring = type, setmetatable, rawget, tostring

local global = context

-- The flattening of the original module, kept exactly.
local function flatten(results)
  local out = {}
  for i = 1, #results do
    local row = results[i]
    if type(row) == 'table' and #row > 0 then
      for j = 1, #row do out[#out + 1] = row[j] end
    else
      return row
    end
  end
  return out
end

-- The function of one collection and method; made once and kept.
local function method(collection, name)
  local channel = { 'store', collection, name }
  return function(query, data)
    return flatten(global.lusty:publish(channel, {
      method = name, collection = collection, query = query, data = data,
    }))
  end
end

local function collectionTable(collection)
  return setmetatable({}, {
    __index = function(self, name)
      if type(name) ~= 'string' then return nil end
      local fn = method(collection, name)
      self[name] = fn
      return fn
    end,
  })
end

global.store = setmetatable({}, {
  __index = function(self, collection)
    if type(collection) ~= 'string' then
      error(('context.store: a collection is named by a string, not %s'):format(tostring(collection)), 2)
    end
    local t = rawget(self, collection)
    if not t then
      t = collectionTable(collection)
      self[collection] = t
    end
    return t
  end,
})
