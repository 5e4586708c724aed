-- GET /users  (the list of sample users)
local users = require('models.users')

context.response.status = 200
context.output = { users = users.all() }
context.log('listed ' .. #context.output.users .. ' users', 'debug')

require('helpers.page')(context, 'pages/users/index')
