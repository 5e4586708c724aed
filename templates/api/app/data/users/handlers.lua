-- Data handlers for users. Each is called as fn(lusty, payload, callback)
-- with the payload given to event:publish, and returns (result, continue):
-- the result is appended to the list that publish returns, and returning
-- no `continue` ends the publish here. (callback(result) would append a
-- result too, for handlers that produce one before they finish.)
-- `lusty` is the app object; store.lua reaches the store through it.
local store = require('data.users.store')

local handlers = {}

-- data:users:list, payload ignored: every user.
function handlers.list(lusty, payload, callback)
  return store.list(lusty)
end

-- data:users:get, payload { id = ... }: the user, or no result at all.
function handlers.get(lusty, payload, callback)
  return store.get(lusty, payload.id)
end

-- data:users:create, payload { name = ..., email = ... }: the new user.
function handlers.create(lusty, payload, callback)
  return store.create(lusty, payload)
end

return handlers
