-- GET /users/{userId}  one user
--
-- `userId` is a local set by lusty.router from the matching path segment.
if context.request.method ~= 'GET' then
  context.response.status = 405
  context.response.headers['allow'] = 'GET'
  context.output = { error = 'method not allowed' }
  return
end

local user = context.lusty.event:publish('data:users:get', { id = userId })[1]

if user then
  context.response.status = 200
  context.output = user
else
  -- Leave the status at 404: lusty.error.status then runs the app's 404
  -- route, so unknown ids get the same answer as unknown URLs.
  context.response.status = 404
end
