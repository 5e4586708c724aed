-- App configuration for {{name}}: which handler modules listen on which
-- channels, and which channels every HTTP request is published on.
--
-- How one route answers both browsers and API clients:
--   * A route file fills context.output with plain data and, for browsers,
--     names a view in context.template (see app/helpers/page.lua).
--   * 'render': lusty.mustache turns context.output into an HTML string, but
--     only when the client accepts HTML (text/html or */*) and a template was
--     named. A client sending only `Accept: application/json` skips it, so
--     context.output stays a table.
--   * 'output': lusty.html comes first and sends context.output when it is a
--     string (the rendered page); sending ends the publish, so the JSON
--     module never re-encodes a page. When output is still a table,
--     lusty.html is skipped and lusty.json.output sends it as JSON.
-- So a browser (Accept: text/html,...,*/*;q=0.8) gets HTML, and
-- `curl -H 'Accept: application/json'` gets the same data as JSON.

return {
  subscribers = {
    -- Decode JSON request bodies into context.input (unused by the sample
    -- routes, ready for the first POST route you add).
    ['input'] = { 'lusty.json.input' },

    -- The router matches the URL path against these patterns in order and
    -- runs the first matching file under app/ with `context`, `config` and
    -- one local per {param}. Paths must match whole (a trailing / is fine).
    ['request'] = {
      ['lusty.router'] = {
        patterns = {
          { [''] = 'requests.index' },
          { ['users/{userId}'] = 'requests.users.show' },
          { ['users'] = 'requests.users.index' },
          { ['boom'] = 'requests.boom' },
          -- Not real URLs: lusty.error.status publishes request:404 and
          -- request:500 below, which run these two routes. A pattern that
          -- is a status code is reached only that way (GET /500 is a 404).
          { ['404'] = 'requests.404' },
          { ['500'] = 'requests.500' },
        },
      },
    },

    -- Render HTML from views in app/views/ (see the comment at the top).
    ['render'] = {
      ['lusty.mustache'] = { base = 'app/views/' },
    },

    -- When a request ends with status 404 or 5xx (or a handler raised an
    -- error; a store that is down raises one with status 503), run the
    -- app's own 404 or 500 route, then render and send its
    -- answer right away. The module clears context.output afterwards, so the
    -- 'output' publisher that follows does not send a second body.
    ['error'] = {
      ['lusty.error.status'] = {
        prefix = {},
        status = {
          [404] = { 'request:404' },
          [500] = { 'request:500' },
        },
        suffix = { 'render', 'output' },
      },
    },

    -- Order matters: lusty.html must come before lusty.json.output (see the
    -- top of this file). Array entries keep their order; keys would not.
    -- empty_as_array: an empty list the app builds is sent as [], not {}.
    ['output'] = {
      'lusty.html',
      { ['lusty.json.output'] = { empty_as_array = true } },
    },

    -- Every context.log(...) call is published on log:<level>.
    ['log'] = { 'lusty.log.console' },

    -- The store: context.store.<collection>.<method>(...) publishes on
    -- store:<collection>:<method>, and the built-in backend answers from
    -- the database lusty.json's "store" names (SQLite by default).
    ['store'] = { 'lusty.store.backend' },
  },

  -- Published for every request, in this order, each extended by the URL
  -- path (a request to /users/1 publishes request:users:1, and so on).
  -- 'error' comes after 'render' so that a view that fails to render still
  -- ends on the 500 page, and before 'output' so that nothing was sent yet.
  publishers = { 'input', 'request', 'render', 'error', 'output' },

  -- Context modules run once at start. lusty.log adds context.log(message,
  -- level); messages below `level` are dropped. lusty.store adds
  -- context.store (app/models/users.lua uses it).
  context = {
    ['lusty.log'] = { level = 'info' },
    ['lusty.store'] = {},
  },
}
