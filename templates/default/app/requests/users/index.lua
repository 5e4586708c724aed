-- GET /users  (the list of users, from the store)
local users = require('models.users')

context.response.status = 200
context.output = { users = users.all(context) }
context.log('listed ' .. #context.output.users .. ' users', 'debug')

require('helpers.page')(context, 'pages/users/index')
