-- App configuration for {{name}}, a JSON API.
--
-- Route files under app/requests/ read the request, publish on data:users:*
-- channels and put the result in context.output; lusty.json.output encodes
-- it. The data handlers never see HTTP, so they can be reused by other
-- routes, scripts or tests. They keep the users in the project's store
-- (context.store; lusty.json "store" says which database).

return {
  -- Seed-style modules: app/data/users/config.lua maps each data:users:*
  -- channel to a function of app/data/users/handlers.lua.
  modules = { 'data.users' },

  subscribers = {
    -- Decode JSON request bodies into context.input (POST /users).
    ['input'] = { 'lusty.json.input' },

    -- The router runs the first route file whose pattern matches the whole
    -- path (a trailing / is fine), with `context`, `config` and one local
    -- per {param}.
    ['request'] = {
      ['lusty.router'] = {
        patterns = {
          { [''] = 'requests.index' },
          { ['users/{userId}'] = 'requests.users.show' },
          { ['users'] = 'requests.users.index' },
          -- Not real URLs: lusty.error.status publishes request:404 and
          -- request:500 below, which run these two routes. A pattern that
          -- is a status code is reached only that way (GET /500 is a 404).
          { ['404'] = 'requests.404' },
          { ['500'] = 'requests.500' },
        },
      },
    },

    -- A request that ends with status 404 or 5xx (or a handler error) gets
    -- the app's JSON 404 or 500 answer (a store that is down raises an
    -- error with status 503, which the 500 route answers too), sent right away; the module then
    -- clears context.output so the 'output' publisher sends nothing more.
    -- Other statuses (400, 405, 201 ...) are answered by the routes.
    ['error'] = {
      ['lusty.error.status'] = {
        prefix = {},
        status = {
          [404] = { 'request:404' },
          [500] = { 'request:500' },
        },
        suffix = { 'output' },
      },
    },

    -- Always answer JSON, whatever the Accept header says (default), and
    -- send an empty list as [] rather than {} (empty_as_array).
    ['output'] = {
      ['lusty.json.output'] = { default = true, empty_as_array = true },
    },

    ['log'] = { 'lusty.log.console' },

    -- The store: context.store.<collection>.<method>(...) publishes on
    -- store:<collection>:<method>, and the built-in backend answers from
    -- the database lusty.json's "store" names (SQLite by default).
    ['store'] = { 'lusty.store.backend' },
  },

  -- Published for every request, in this order, each extended by the URL
  -- path. 'error' sits between the routes and the output so that an error
  -- answer replaces the route's before anything is sent.
  publishers = { 'input', 'request', 'error', 'output' },

  -- lusty.log adds context.log(message, level); lusty.store adds
  -- context.store.
  context = {
    ['lusty.log'] = { level = 'info' },
    ['lusty.store'] = {},
  },
}
