-- An in-memory user store, so the API runs with no database. Its contents
-- last as long as the server process. Replace these functions to use a
-- real database; the handlers and routes need not change.
local users = {
  { id = 1, name = 'Ada Lovelace', email = 'ada@example.com' },
  { id = 2, name = 'Alan Turing', email = 'alan@example.com' },
}
local lastId = #users

local store = {}

-- A copy of the list, so callers cannot reorder or shrink the store.
function store.list()
  local copy = {}
  for i, user in ipairs(users) do
    copy[i] = user
  end
  return copy
end

-- The user with this id (a number or a string of digits), or nil.
function store.get(id)
  id = tonumber(id)
  for _, user in ipairs(users) do
    if user.id == id then
      return user
    end
  end
  return nil
end

-- Adds a user from already validated fields and returns it.
function store.create(fields)
  lastId = lastId + 1
  local user = { id = lastId, name = fields.name, email = fields.email }
  users[#users + 1] = user
  return user
end

return store
