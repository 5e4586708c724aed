-- A few sample users kept in memory, standing in for a real data store.
-- Loaded with require, so every route shares the same table.
local users = {
  { id = 1, name = 'Ada Lovelace', email = 'ada@example.com' },
  { id = 2, name = 'Alan Turing', email = 'alan@example.com' },
  { id = 3, name = 'Grace Hopper', email = 'grace@example.com' },
}

local M = {}

-- All users, in id order.
function M.all()
  return users
end

-- The user with this id, or nil. Route parameters arrive as strings, so the
-- id is converted here rather than in every caller.
function M.find(id)
  id = tonumber(id)
  for _, user in ipairs(users) do
    if user.id == id then
      return user
    end
  end
  return nil
end

return M
