-- GET /users/{userId}  (one user)
--
-- `userId` is a local set by lusty.router from the matching path segment.
local user = require('models.users').find(context, userId)

if not user then
  -- Leave the status at 404 and set no output: lusty.error.status then runs
  -- the app's 404 route, so unknown ids get the same page as unknown URLs.
  context.response.status = 404
  context.log('no user with id ' .. tostring(userId), 'info')
  return
end

context.response.status = 200
context.output = { user = user }

require('helpers.page')(context, 'pages/users/show')
