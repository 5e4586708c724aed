-- GET /  (what this API offers)
--
-- Route files are chunks, not modules: lusty.router runs this file for each
-- matching request with the locals `context` and `config` already defined.

-- The router sets status 404 before matching; a route that answers says so.
context.response.status = 200

context.output = {
  name = '{{name}}',
  endpoints = {
    'GET /users',
    'GET /users/{id}',
    'POST /users',
  },
}
