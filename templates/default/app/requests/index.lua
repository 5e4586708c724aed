-- GET /  (welcome page)
--
-- Route files are chunks, not modules: lusty.router runs this file for each
-- matching request with the locals `context` (this request) and `config`
-- (the router's own config) already defined.

-- The router sets status 404 before matching; a route that answers says so.
context.response.status = 200

context.output = {
  message = 'Welcome to {{name}}',
  links = {
    { href = '/users', title = 'Sample users' },
    { href = '/users/1', title = 'One user' },
    { href = '/nowhere', title = 'A page that does not exist' },
  },
}

require('helpers.page')(context, 'pages/index')
